"""Claims in batches: the placement pass's write path, a few statements for many placements.

Each claim is the same three compare-and-swaps as one placement alone — the
workload still pending, the host still at the generation the decision read,
one open allocation — sent as executemany so PostgreSQL gets them in a few
round trips. If any one of them misses, the caller rolls the whole batch back
and places its workloads one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import Update, and_, bindparam, insert, update

from civicloud.domain import Resources, ServiceClass, WorkloadState
from civicloud.domain.workloads import check_transition
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo
from civicloud.store.repositories.hosts import update_hosts

H, W = t.hosts.c, t.workloads.c


@dataclass(frozen=True)
class Claim:
    allocation_id: str
    workload_id: str
    host_id: str
    seen_generation: int
    resources: Resources
    service_class: ServiceClass
    message: str


_PLACE = (update(t.workloads)
          .where(and_(W.id == bindparam("w_id"), W.state == WorkloadState.PENDING.value))
          .values(state=WorkloadState.SCHEDULED.value, host_id=bindparam("w_host"), message=bindparam("w_message"),
                  updated_at=bindparam("w_now")))


def _host_claim(guaranteed: bool) -> Update:
    values = {f"allocated_{r}": getattr(H, f"allocated_{r}") + bindparam(f"d_{r}")
              for r in ("vcpus", "memory_mib", "disk_gib", "gpus")}
    if guaranteed:
        values |= {f"guaranteed_{r}": getattr(H, f"guaranteed_{r}") + bindparam(f"d_{r}")
                   for r in ("vcpus", "memory_mib", "disk_gib", "gpus")}
    return (update_hosts(and_(H.id == bindparam("h_id"), H.generation == bindparam("h_gen")))
            .values(generation=H.generation + 1, **values))


_CLAIM = {ServiceClass.HARVEST: _host_claim(False), ServiceClass.GUARANTEED: _host_claim(True)}


class ClaimRepository(Repo):
    def claim_all(self, claims: list[Claim], now: datetime) -> bool:
        """Apply every claim, in order; False as soon as one compare-and-swap misses (then roll back)."""
        if not claims:
            return True
        check_transition(WorkloadState.PENDING, WorkloadState.SCHEDULED)  # what _PLACE writes, by the table
        placed = self._conn.execute(_PLACE, [{"w_id": c.workload_id, "w_host": c.host_id, "w_message": c.message,
                                              "w_now": now} for c in claims])
        if placed.rowcount != len(claims):
            return False
        # Claims run in decision order (two on one host: the second saw the generation the first leaves),
        # as runs of one service class, each run one executemany.
        for cls, run in groupby(claims, key=lambda c: c.service_class):
            params = [_host_params(c) for c in run]
            if self._conn.execute(_CLAIM[cls], params).rowcount != len(params):
                return False
        self._conn.execute(insert(t.allocations), [{
            "id": c.allocation_id, "workload_id": c.workload_id, "host_id": c.host_id, "vcpus": c.resources.vcpus,
            "memory_mib": c.resources.memory_mib, "disk_gib": c.resources.disk_gib, "gpus": c.resources.gpus,
            "service_class": c.service_class.value, "created_at": now} for c in claims])
        return True


def _host_params(c: Claim) -> dict[str, object]:
    r = c.resources
    return {"h_id": c.host_id, "h_gen": c.seen_generation, "d_vcpus": r.vcpus, "d_memory_mib": r.memory_mib,
            "d_disk_gib": r.disk_gib, "d_gpus": r.gpus}
