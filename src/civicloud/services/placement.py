"""Placement of pending workloads: decide on a snapshot, then claim with compare-and-swap.

The decision is pure (``civicloud.scheduler``); this module reads the
snapshot, writes the claim, and retries on a fresh snapshot when another
scheduler (a second server replica) claimed the same host first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from civicloud.domain import Allocation, WorkloadState
from civicloud.scheduler import PlacementRequest, schedule
from civicloud.services._common import UowFactory, new_id, utcnow

log = logging.getLogger(__name__)
S = WorkloadState


@dataclass(frozen=True)
class PlacementOutcome:
    workload_id: str
    placed: bool
    host_id: str | None
    message: str


def place_pending(uow_factory: UowFactory, *, stale_after: timedelta, retries: int,
                  batch: int = 200) -> list[PlacementOutcome]:
    """Try to place every pending workload, oldest first."""
    with uow_factory() as uow:
        pending = [w.id for w in uow.workloads.pending(batch)]
    return [place_workload(uow_factory, wid, stale_after=stale_after, retries=retries) for wid in pending]


def place_workload(uow_factory: UowFactory, workload_id: str, *, stale_after: timedelta,
                   retries: int) -> PlacementOutcome:
    summary = "not tried"
    for attempt in range(1, retries + 1):
        with uow_factory() as uow:
            workload = uow.workloads.get(workload_id)
            if workload is None or workload.state is not S.PENDING:
                return PlacementOutcome(workload_id, False, None, "no longer pending")
            offering = uow.offerings.get(workload.offering_id)
            assert offering is not None, "a workload's offering is a foreign key"
            now = utcnow()
            decision = schedule(uow.hosts.snapshot(), PlacementRequest(workload.id, offering.resources),
                                now=now, stale_after=stale_after)
            summary = decision.summary()
            host = decision.best
            if host is None:
                message = f"no host fits {offering.name} now ({summary}); retrying as capacity frees up"
                if workload.message != message:
                    uow.workloads.update(workload.id, S.PENDING, now=now, message=message)
                    uow.commit()
                return PlacementOutcome(workload_id, False, None, message)
            # The workload's compare-and-swap goes first: a rival scheduler that chose another host for
            # it has then either lost here, or won and made this update miss; the allocation's unique
            # index is never the one to tell.
            message = f"placed on {host.name} ({summary})"
            if not uow.workloads.update(workload.id, S.PENDING, now=now, state=S.SCHEDULED,
                                        host_id=host.id, message=message):
                continue  # someone else placed or deleted it meanwhile: the next read says so
            if not uow.hosts.claim(host.id, host.generation, offering.resources):
                log.debug("claim on host %s lost (attempt %d); re-reading", host.name, attempt)
                continue  # rolled back on exit; try again on a fresh snapshot
            uow.allocations.add(Allocation(new_id(), workload.id, host.id, offering.resources, now))
            uow.commit()
            return PlacementOutcome(workload_id, True, host.id, message)
    message = f"placement lost {retries} races for hosts to other schedulers; will retry ({summary})"
    with uow_factory() as uow:
        uow.workloads.update(workload_id, S.PENDING, now=utcnow(), message=message)
        uow.commit()
    return PlacementOutcome(workload_id, False, None, message)
