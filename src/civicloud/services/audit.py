"""Reading and checking the audit log (entries are appended by the API's middleware)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from civicloud.domain.audit import AuditEntry, Break, first_break
from civicloud.services.access import Caller, operation
from civicloud.store import UnitOfWork


@operation("audit.list")
def list_entries(uow: UnitOfWork, caller: Caller, *, actor: str | None = None, action: str | None = None,
                 since: datetime | None = None, until: datetime | None = None, limit: int = 100) -> list[AuditEntry]:
    """The newest entries first, filtered."""
    with uow:
        return uow.audit.entries(actor=actor, action=action, since=since, until=until, limit=limit,
                                 newest_first=True)


@operation("audit.verify")
def verify(uow: UnitOfWork, caller: Caller) -> tuple[int, Break | None]:
    """(entries read, the first break in the chain or None). Also checks the head names the last entry."""
    with uow:
        count = 0
        last_seq, last_hash = 0, ""

        def counted() -> Iterator[AuditEntry]:
            nonlocal count, last_seq, last_hash
            for entry in uow.audit.walk():
                count += 1
                last_seq, last_hash = entry.seq, entry.hash
                yield entry

        broken = first_break(counted())
        if broken is not None:
            return count, broken
        head_seq, head_hash = uow.audit.head()
        if (head_seq, head_hash) != (last_seq, last_hash or head_hash):
            return count, Break(head_seq, f"the log ends at #{last_seq} but its head names #{head_seq}: "
                                          "entries were removed from the end")
        return count, None
