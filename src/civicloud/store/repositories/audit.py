"""The audit log (append-only, hash-chained) and the idempotency keys' stored answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from civicloud.domain.audit import GENESIS, AuditEntry, chained
from civicloud.errors import Unavailable
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

AL = t.audit_log.c
HEAD = t.audit_head.c
IK = t.idempotency_keys.c


class AuditRepository(Repo):
    def head(self) -> tuple[int, str]:
        row = self._one(select(HEAD.seq, HEAD.hash).where(HEAD.id == 1))
        return (row.seq, row.hash) if row else (0, GENESIS)

    def chain(self, entries: list[AuditEntry], retries: int = 50) -> list[AuditEntry]:
        """Append ``entries`` in order, reading the head again when another writer moved it first; Unavailable
        when it keeps moving. Every writer of the log — the unit of work's events, the API's request entries —
        goes through here."""
        for _ in range(retries):
            linked = self.append_many(entries)
            if linked is not None:
                return linked
        raise Unavailable("the audit log is too busy to take this change's entries; retry in a moment",
                          code="civicloud.audit.busy")

    def append(self, entry: AuditEntry) -> AuditEntry | None:
        """Chain ``entry`` after the head and move the head (compare-and-swap); None if another append got
        there first (the caller retries in a new transaction)."""
        linked = self.append_many([entry])
        return linked[0] if linked else None

    def append_many(self, entries: list[AuditEntry]) -> list[AuditEntry] | None:
        """Chain ``entries`` in order after the head, moving the head once (compare-and-swap) and inserting them
        in one statement; None if another append got there first (read the head again and retry: on
        PostgreSQL the head's row lock makes the retry wait for the other writer's commit)."""
        if not entries:
            return []
        # The head's row is locked first (FOR UPDATE, on PostgreSQL; SQLite's writers are serialised by
        # BEGIN IMMEDIATE already): a concurrent writer waits here for the holder's commit and then reads the
        # head it left, instead of losing the compare-and-swap below and trying again.
        locked = select(HEAD.seq, HEAD.hash).where(HEAD.id == 1).with_for_update()
        row = self._one(locked)
        if row is None:  # the log's first entry: the head is created once, whoever gets there first
            try:
                with self._conn.begin_nested():
                    self._conn.execute(insert(t.audit_head).values(id=1, seq=0, hash=GENESIS))
            except IntegrityError:
                pass
            row = self._one(locked)
            assert row is not None, "the audit head exists once created"
        seq, prev = row.seq, row.hash
        linked = []
        for entry in entries:
            link = chained(entry, seq, prev)
            linked.append(link)
            seq, prev = link.seq, link.hash
        moved = self._conn.execute(update(t.audit_head).where(and_(HEAD.id == 1, HEAD.seq == linked[0].seq - 1))
                                   .values(seq=seq, hash=prev))
        if moved.rowcount != 1:
            return None
        self._conn.execute(insert(t.audit_log), [vars(link) for link in linked])
        return linked

    def entries(self, *, after: int = 0, limit: int = 1000, actor: str | None = None, action: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                newest_first: bool = False) -> list[AuditEntry]:
        stmt = select(t.audit_log).limit(limit)
        stmt = stmt.order_by(AL.seq.desc()) if newest_first else stmt.where(AL.seq > after).order_by(AL.seq)
        if actor is not None:
            stmt = stmt.where(AL.actor == actor)
        if action is not None:
            stmt = stmt.where(AL.action.contains(action, autoescape=True))
        if since is not None:
            stmt = stmt.where(AL.at >= since)
        if until is not None:
            stmt = stmt.where(AL.at < until)
        return [_entry(r) for r in self._conn.execute(stmt)]

    def walk(self, page: int = 5000) -> Iterator[AuditEntry]:
        """Every entry in order, a page at a time."""
        after = 0
        while batch := self.entries(after=after, limit=page):
            yield from batch
            after = batch[-1].seq


def _entry(r: Row[Any]) -> AuditEntry:
    return AuditEntry(r.seq, r.at, r.actor, r.member_id, r.role, r.action, r.target, r.outcome, r.source,
                      r.prev_hash, r.hash)


@dataclass(frozen=True)
class StoredAnswer:
    request: str
    body_sha256: str
    status: int | None
    response: str | None


class IdempotencyRepository(Repo):
    def get(self, principal: str, key: str) -> StoredAnswer | None:
        row = self._one(select(IK.request, IK.body_sha256, IK.status, IK.response)
                        .where(and_(IK.principal == principal, IK.key == key)))
        return StoredAnswer(row.request, row.body_sha256, row.status, row.response) if row else None

    def claim(self, principal: str, key: str, request: str, body_sha256: str, now: datetime) -> None:
        """Record that the first request with this key is being handled (its primary key refuses a second)."""
        self._conn.execute(insert(t.idempotency_keys).values(principal=principal, key=key, request=request,
                                                             body_sha256=body_sha256, created_at=now))

    def answer(self, principal: str, key: str, status: int, response: str) -> None:
        self._conn.execute(update(t.idempotency_keys).where(and_(IK.principal == principal, IK.key == key))
                           .values(status=status, response=response))

    def release(self, principal: str, key: str) -> None:
        """Forget a key whose request failed on the server's side, so that a retry runs again."""
        self._conn.execute(delete(t.idempotency_keys).where(and_(IK.principal == principal, IK.key == key)))

    def forget_before(self, when: datetime) -> int:
        return self._conn.execute(delete(t.idempotency_keys).where(IK.created_at < when)).rowcount
