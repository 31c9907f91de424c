"""The audit log's chain: each entry carries the hash of the one before it. Pure.

An entry's hash is SHA-256 over the previous entry's hash and the entry's own
fields, in a fixed canonical form; the first entry follows the hash of nothing
(64 zeros). Changing, removing or inserting any entry breaks the chain at that
entry or the next one, which ``first_break`` names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str  # who: "operator-token", "site:<id>", a user's login once identities exist
    member_id: str | None  # on whose behalf, when known
    role: str
    action: str  # "POST /api/v1/workloads/{workload_id}/stop"
    target: str  # the ids the action named or created
    outcome: int  # the HTTP status answered
    source: str  # the client's address
    prev_hash: str = GENESIS
    hash: str = ""

    def content(self) -> str:
        """The canonical text the hash covers (everything but the hash itself)."""
        return json.dumps([self.seq, self.at.astimezone(UTC).isoformat(timespec="microseconds"), self.actor,
                           self.member_id, self.role, self.action, self.target, self.outcome, self.source,
                           self.prev_hash], ensure_ascii=False, separators=(",", ":"))


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.content().encode()).hexdigest()


def chained(entry: AuditEntry, prev_seq: int, prev_hash: str) -> AuditEntry:
    """``entry`` as the one after (prev_seq, prev_hash), its hash computed."""
    linked = AuditEntry(prev_seq + 1, entry.at, entry.actor, entry.member_id, entry.role, entry.action, entry.target,
                        entry.outcome, entry.source, prev_hash)
    return AuditEntry(**{**vars(linked), "hash": entry_hash(linked)})


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def first_break(entries: Iterable[AuditEntry], prev_seq: int = 0, prev_hash: str = GENESIS) -> Break | None:
    """The first entry (in seq order) that does not follow the one before it or whose hash is wrong."""
    for e in entries:
        if e.seq != prev_seq + 1:
            return Break(prev_seq + 1, f"entry #{prev_seq + 1} is missing (the next one is #{e.seq})")
        if e.prev_hash != prev_hash:
            return Break(e.seq, f"entry #{e.seq} does not follow #{prev_seq}: it names another hash before it")
        if entry_hash(e) != e.hash:
            return Break(e.seq, f"entry #{e.seq} was changed after it was written: its hash does not match")
        prev_seq, prev_hash = e.seq, e.hash
    return None
