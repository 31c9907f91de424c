"""Rate-limit counters: one row per key and fixed window, incremented by one atomic upsert."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

RL = t.rate_limits.c


class RateLimitRepository(Repo):
    def count(self, key: str, window_start: datetime) -> int:
        """The key's count in the window that starts at ``window_start`` (0 when it has none)."""
        found = self._conn.execute(select(RL.count).where(and_(RL.key == key, RL.window_start == window_start)))
        return int(found.scalar() or 0)

    def take(self, key: str, window_start: datetime, expires_at: datetime, allowance: int,
             amount: int = 1) -> int | None:
        """Count ``amount`` more checks for the key in this window if its count stays within ``allowance``:
        the new count, or None when they do not fit (nothing written).

        One statement, ``INSERT … ON CONFLICT (key, window_start) DO UPDATE SET count = count + :amount
        WHERE count + :amount <= :allowance RETURNING count`` (PostgreSQL; SQLite ≥ 3.35): the row is created
        or incremented atomically, so concurrent checks — from threads or replicas — never admit more than
        ``allowance``. On PostgreSQL the row stays locked until the transaction ends: keep that transaction
        short."""
        if amount < 1 or allowance < amount:
            return None
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        stmt = (dialect.insert(t.rate_limits)
                .values(key=key, window_start=window_start, count=amount, expires_at=expires_at)
                .on_conflict_do_update(index_elements=[RL.key, RL.window_start], set_={"count": RL.count + amount},
                                       where=RL.count + amount <= allowance)
                .returning(RL.count))
        counted = self._conn.execute(stmt).scalar()  # no row: the WHERE refused the update
        return None if counted is None else int(counted)

    def forget_expired(self, now: datetime) -> int:
        """Delete every window that has expired (its count no longer weighs in any check); how many were."""
        return self._conn.execute(delete(t.rate_limits).where(RL.expires_at <= now)).rowcount

