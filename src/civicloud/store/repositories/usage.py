"""Usage samples: append-only, one row per sample id whatever how often an agent sends it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Row, and_, func, insert, select

from civicloud.domain import UsageSample
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

U = t.usage_samples.c


class UsageSampleRepository(Repo):
    def known(self, ids: list[str]) -> set[str]:
        """The ids among ``ids`` already stored."""
        if not ids:
            return set()
        return {r[0] for r in self._conn.execute(select(U.id).where(U.id.in_(ids)))}

    def add_many(self, samples: list[UsageSample]) -> None:
        """Append ``samples`` (ids not stored yet: the caller checked with ``known``). A concurrent delivery
        of the same ids fails on the primary key and the caller's transaction rolls back: nothing twice."""
        if samples:
            self._conn.execute(insert(t.usage_samples), [asdict(s) for s in samples])

    def latest(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], UsageSample]:
        """(workload, host) -> the latest sample stored of the workload on the host (by sampled_at, then id),
        for the pairs among ``pairs`` that have one: what a new sample's counters are checked against. One
        indexed look-up a pair (newest first on (workload_id, sampled_at)), not a scan of their history."""
        out: dict[tuple[str, str], UsageSample] = {}
        for workload_id, host_id in sorted(pairs):
            row = self._one(select(t.usage_samples).where(and_(U.workload_id == workload_id, U.host_id == host_id))
                            .order_by(U.sampled_at.desc(), U.id.desc()).limit(1))
            if row is not None:
                out[(workload_id, host_id)] = _sample(row)
        return out

    def for_workload(self, workload_id: str, limit: int = 100) -> list[UsageSample]:
        """The most recent samples of a workload, newest first."""
        stmt = (select(t.usage_samples).where(U.workload_id == workload_id)
                .order_by(U.sampled_at.desc(), U.id).limit(limit))
        return [_sample(r) for r in self._conn.execute(stmt)]

    def count(self, workload_id: str | None = None) -> int:
        stmt = select(func.count()).select_from(t.usage_samples)
        if workload_id is not None:
            stmt = stmt.where(U.workload_id == workload_id)
        return int(self._conn.execute(stmt).scalar_one())


def _sample(r: Row[Any]) -> UsageSample:
    return UsageSample(**{c.name: getattr(r, c.name) for c in t.usage_samples.columns})
