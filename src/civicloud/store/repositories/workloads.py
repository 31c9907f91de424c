"""Workloads and their allocations."""

from __future__ import annotations

import builtins
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, select, tuple_, update

from civicloud.domain import (
    Allocation,
    DesiredPower,
    PlacementExplanation,
    Residency,
    Resources,
    ServiceClass,
    Workload,
    WorkloadState,
)
from civicloud.domain.usage import AllocationFacts
from civicloud.domain.workloads import check_transition
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

W = t.workloads.c
A = t.allocations.c
LIVE = W.state != WorkloadState.DELETED.value
_EXPLAIN = (update(t.workloads).where(and_(W.id == bindparam("w_id"), W.state == WorkloadState.PENDING.value))
            .values(placement_summary=bindparam("w_summary"), message=bindparam("w_message"),
                    placement_reasons=bindparam("w_reasons", type_=t.workloads.c.placement_reasons.type),
                    placement_decided_at=bindparam("w_at", type_=t.workloads.c.placement_decided_at.type)))


class WorkloadRepository(Repo):
    def add(self, w: Workload) -> None:
        residency = ({"countries": list(w.residency.countries), "regions": list(w.residency.regions),
                      "departments": list(w.residency.departments)} if w.residency.constrained else None)
        self._conn.execute(insert(t.workloads).values(
            id=w.id, member_id=w.member_id, offering_id=w.offering_id, name=w.name, state=w.state.value,
            desired=w.desired.value, host_id=w.host_id, message=w.message, created_at=w.created_at,
            updated_at=w.updated_at, service_class=w.service_class.value, group_id=w.group_id,
            residency=residency))

    def get(self, workload_id: str) -> Workload | None:
        row = self._one(select(t.workloads).where(W.id == workload_id))
        return _workload(row) if row else None

    def name_taken(self, member_id: str, name: str) -> bool:
        return self._one(select(W.id).where(and_(W.member_id == member_id, W.name == name, LIVE))) is not None

    def list(self, *, member_id: str | None = None, state: WorkloadState | None = None,
             include_deleted: bool = False, limit: int = 1000, offset: int = 0) -> list[Workload]:
        stmt = select(t.workloads).order_by(W.created_at, W.id).limit(limit).offset(offset)
        if member_id is not None:
            stmt = stmt.where(W.member_id == member_id)
        if state is not None:
            stmt = stmt.where(W.state == state.value)
        elif not include_deleted:
            stmt = stmt.where(LIVE)
        return [_workload(r) for r in self._conn.execute(stmt)]

    def pending(self, limit: int, after: tuple[datetime, str] | None = None) -> builtins.list[Workload]:
        """Pending workloads in arrival order, from just after ``after`` (created_at, id): keyset paging."""
        stmt = (select(t.workloads).where(W.state == WorkloadState.PENDING.value)
                .order_by(W.created_at, W.id).limit(limit))
        if after is not None:
            stmt = stmt.where(tuple_(W.created_at, W.id) > tuple_(bindparam("a_at", after[0], type_=W.created_at.type),
                                                                  bindparam("a_id", after[1])))
        return [_workload(r) for r in self._conn.execute(stmt)]

    def on_site(self, site_id: str) -> builtins.list[tuple[Workload, str]]:
        """Live workloads placed on the site's hosts, with the host's name."""
        stmt = (select(t.workloads, t.hosts.c.name.label("host_name"))
                .select_from(t.workloads.join(t.hosts, W.host_id == t.hosts.c.id))
                .where(and_(t.hosts.c.site_id == site_id, LIVE)).order_by(W.created_at))
        return [(_workload(r), r.host_name) for r in self._conn.execute(stmt)]

    def update(self, workload_id: str, expected_state: WorkloadState, *, now: datetime, **values: Any) -> bool:
        """Change a workload if its state is still ``expected_state`` (compare-and-swap on the state).

        A change of state must be one the domain's transition table allows (``domain.workloads.TRANSITIONS``):
        any other raises Conflict ``civicloud.workload.invalid_transition``, whichever path asked for it."""
        if "state" in values:
            check_transition(expected_state, WorkloadState(values["state"]))
        for key in ("state", "desired"):
            if key in values and hasattr(values[key], "value"):
                values[key] = values[key].value
        result = self._conn.execute(update(t.workloads).where(and_(W.id == workload_id,
                                                                   W.state == expected_state.value))
                                    .values(updated_at=now, **values))
        return result.rowcount == 1

    def explain(self, workload_id: str, explanation: PlacementExplanation, message: str) -> None:
        """Record the last placement decision of a pending workload."""
        self.explain_many([(workload_id, explanation, message)])

    def explain_many(self, items: builtins.list[tuple[str, PlacementExplanation, str]]) -> None:
        if items:
            self._conn.execute(_EXPLAIN, [{"w_id": wid, "w_summary": e.summary, "w_message": message,
                                           "w_reasons": [list(r) for r in e.reasons], "w_at": e.decided_at}
                                          for wid, e, message in items])

    def usage_by_member(self) -> dict[tuple[str, str], tuple[Resources, int]]:
        """(member, class) -> (resources held by open allocations, placed live workloads): what quotas count.

        Pending workloads do not count: they hold nothing yet, and counting them would let a burst of
        requests above the limit block every one of them."""
        held: dict[tuple[str, str], Resources] = defaultdict(Resources)
        stmt = (select(W.member_id, A.service_class, func.sum(A.vcpus), func.sum(A.memory_mib),
                       func.sum(A.disk_gib), func.sum(A.gpus))
                .select_from(t.allocations.join(t.workloads, A.workload_id == W.id))
                .where(A.released_at.is_(None)).group_by(W.member_id, A.service_class))
        for member, cls, v, m, d, g in self._conn.execute(stmt):
            held[(member, cls)] = Resources(int(v), int(m), int(d), int(g))
        counts = {(m, c): int(n) for m, c, n in self._conn.execute(
            select(W.member_id, W.service_class, func.count()).where(and_(LIVE, W.host_id.is_not(None)))
            .group_by(W.member_id, W.service_class))}
        return {key: (held.get(key, Resources()), counts.get(key, 0)) for key in set(held) | set(counts)}

    def live_demand(self, member_id: str, service_class: str) -> tuple[Resources, int]:
        """What a member's live workloads of one class ask for (their offerings), pending ones included."""
        OF = t.offerings.c
        row = self._one(select(func.coalesce(func.sum(OF.vcpus), 0), func.coalesce(func.sum(OF.memory_mib), 0),
                               func.coalesce(func.sum(OF.disk_gib), 0), func.coalesce(func.sum(OF.gpus), 0),
                               func.count())
                        .select_from(t.workloads.join(t.offerings, W.offering_id == OF.id))
                        .where(and_(W.member_id == member_id, W.service_class == service_class, LIVE)))
        assert row is not None
        return Resources(int(row[0]), int(row[1]), int(row[2]), int(row[3])), int(row[4])

    def harvest_on_hosts(self, host_ids: builtins.list[str]) -> builtins.list[tuple[Workload, Resources]]:
        """Live harvest workloads holding an allocation on one of ``host_ids``, with what they hold: what a
        reclaim may evict."""
        if not host_ids:
            return []
        stmt = (select(t.workloads, A.vcpus.label("a_vcpus"), A.memory_mib.label("a_memory_mib"),
                       A.disk_gib.label("a_disk_gib"), A.gpus.label("a_gpus"))
                .select_from(t.workloads.join(t.allocations, and_(A.workload_id == W.id, A.released_at.is_(None))))
                .where(and_(A.host_id.in_(host_ids), A.service_class == "harvest", LIVE))
                .order_by(W.created_at, W.id))
        return [(_workload(r), Resources(r.a_vcpus, r.a_memory_mib, r.a_disk_gib, r.a_gpus))
                for r in self._conn.execute(stmt)]

    def members_of(self, workload_ids: set[str]) -> dict[str, str]:
        """workload id -> its member, for ``workload_ids`` (deleted ones included)."""
        if not workload_ids:
            return {}
        return {w: m for w, m in self._conn.execute(select(W.id, W.member_id).where(W.id.in_(list(workload_ids))))}

    def evicting(self) -> builtins.list[Workload]:
        """Workloads being evicted, oldest deadline first: the order re-placement tries them in."""
        stmt = (select(t.workloads).where(W.state == WorkloadState.EVICTING.value)
                .order_by(W.evict_deadline, W.id))
        return [_workload(r) for r in self._conn.execute(stmt)]

    def group_hosts(self) -> dict[str, dict[str, int]]:
        """Placement group -> host -> how many of its live, placed workloads are there."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        stmt = (select(W.group_id, W.host_id, func.count()).where(and_(W.group_id.is_not(None), W.host_id.is_not(None),
                                                                       LIVE))
                .group_by(W.group_id, W.host_id))
        for group_id, host_id, count in self._conn.execute(stmt):
            out[group_id][host_id] = int(count)
        return out


def _workload(r: Row[Any]) -> Workload:
    res = r.residency or {}
    placement = None
    if r.placement_summary is not None:
        placement = PlacementExplanation(r.placement_summary, tuple(tuple(x) for x in r.placement_reasons or ()),
                                         r.placement_decided_at)
    return Workload(r.id, r.member_id, r.offering_id, r.name, WorkloadState(r.state), DesiredPower(r.desired),
                    r.host_id, r.message, r.created_at, r.updated_at, ServiceClass(r.service_class), r.group_id,
                    Residency(tuple(res.get("countries", ())), tuple(res.get("regions", ())),
                              tuple(res.get("departments", ()))), placement, r.evict_deadline,
                    r.reboot_requested_at)


class AllocationRepository(Repo):
    def add(self, a: Allocation) -> None:
        r = a.resources
        self._conn.execute(insert(t.allocations).values(
            id=a.id, workload_id=a.workload_id, host_id=a.host_id, vcpus=r.vcpus, memory_mib=r.memory_mib,
            disk_gib=r.disk_gib, gpus=r.gpus, service_class=a.service_class.value, created_at=a.created_at,
            released_at=a.released_at))

    def open_for(self, workload_id: str) -> Allocation | None:
        row = self._one(select(t.allocations).where(and_(A.workload_id == workload_id, A.released_at.is_(None))))
        return _allocation(row) if row else None

    def close(self, allocation_id: str, now: datetime) -> bool:
        result = self._conn.execute(update(t.allocations).where(and_(A.id == allocation_id, A.released_at.is_(None)))
                                    .values(released_at=now))
        return result.rowcount == 1

    def held_on(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], list[AllocationFacts]]:
        """(workload, host) -> every allocation the workload held on the host (open or released), oldest
        first, for the pairs among ``pairs`` that ever held one: what an agent's samples are checked against.

        The rows stay locked until the caller's transaction ends (FOR UPDATE on PostgreSQL, in one order so
        that two callers cannot deadlock; SQLite's writers queue anyway): two deliveries of samples of one
        workload are checked one after the other, each against what the other stored."""
        if not pairs:
            return {}
        out: dict[tuple[str, str], list[AllocationFacts]] = defaultdict(list)
        stmt = (select(A.workload_id, A.host_id, A.vcpus, A.memory_mib, A.created_at)
                .where(tuple_(A.workload_id, A.host_id).in_(list(pairs))).order_by(A.created_at, A.id)
                .with_for_update())
        for w, h, vcpus, memory_mib, created_at in self._conn.execute(stmt):
            out[(w, h)].append(AllocationFacts(vcpus, memory_mib, created_at))
        return dict(out)

    def open_totals_by_host(self) -> dict[str, Resources]:
        """Sum of open allocations per host, to check the hosts' counters against."""
        stmt = (select(A.host_id, func.sum(A.vcpus), func.sum(A.memory_mib), func.sum(A.disk_gib), func.sum(A.gpus))
                .where(A.released_at.is_(None)).group_by(A.host_id))
        return {r[0]: Resources(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in self._conn.execute(stmt)}


def _allocation(r: Row[Any]) -> Allocation:
    return Allocation(r.id, r.workload_id, r.host_id, Resources(r.vcpus, r.memory_mib, r.disk_gib, r.gpus),
                      r.created_at, r.released_at, ServiceClass(r.service_class))
