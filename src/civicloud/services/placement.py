"""Placement of pending workloads: decide on a snapshot, then claim with compare-and-swap.

A pass reads the store once (hosts, offers, sites, members, quotas, groups),
then places pending workloads in arrival order against that snapshot, keeping
it current with each claim it makes. The claim is
``UPDATE hosts … WHERE id = ? AND generation = ?``: when another scheduler
(a second server replica) changed the host since the snapshot was read, the
claim fails, the pass re-reads a fresh snapshot and decides again, a bounded
number of times, then leaves the workload pending with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from civicloud.domain import Allocation, PlacementExplanation, Workload, WorkloadState
from civicloud.scheduler import Decision, profile_for, schedule
from civicloud.services._common import UowFactory, new_id, utcnow
from civicloud.services.snapshots import PlacementContext, load_context, load_snapshot, record_claim, request_for

log = logging.getLogger(__name__)
S = WorkloadState
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class PlacementOutcome:
    workload_id: str
    placed: bool
    host_id: str | None
    message: str


@dataclass(frozen=True)
class PlacementSettings:
    stale_after: timedelta = timedelta(seconds=60)
    retries: int = 5
    batch: int = 500
    default_carbon_g_per_kwh: float = 52.0


def place_pending(uow_factory: UowFactory, settings: PlacementSettings, clock: Clock = utcnow) -> list[PlacementOutcome]:
    """Place pending workloads, oldest first, up to ``settings.batch`` of them."""
    with uow_factory() as uow:
        pending = uow.workloads.pending(settings.batch)
        if not pending:
            return []
        ctx = _context(uow, clock(), settings)
    outcomes = []
    for workload in pending:
        outcome, ctx = _place(uow_factory, ctx, workload, settings, clock)
        outcomes.append(outcome)
    return outcomes


def _context(uow: object, now: datetime, settings: PlacementSettings) -> PlacementContext:
    return load_context(uow, now, settings.stale_after, settings.default_carbon_g_per_kwh)  # type: ignore[arg-type]


def _place(uow_factory: UowFactory, ctx: PlacementContext, workload: Workload, settings: PlacementSettings,
           clock: Clock) -> tuple[PlacementOutcome, PlacementContext]:
    decision: Decision | None = None
    for attempt in range(1, settings.retries + 1):
        request = request_for(ctx, workload)
        decision = schedule(ctx.snapshot, request, profile_for(workload.service_class))
        host_id = decision.best
        if host_id is None:
            return _leave_pending(uow_factory, workload, decision, clock, ctx), ctx
        offering = ctx.offerings[workload.offering_id]
        snap = ctx.snapshot
        index = snap.index_of[host_id]
        host_name = snap.host_names[index]
        now = clock()
        with uow_factory() as uow:
            # The workload's compare-and-swap goes first: a rival scheduler that placed it elsewhere has
            # either lost here already, or won and makes this update miss.
            message = f"placed on {host_name} ({decision.summary()})"
            if not uow.workloads.update(workload.id, S.PENDING, now=now, state=S.SCHEDULED, host_id=host_id,
                                        message=message):
                return PlacementOutcome(workload.id, False, None, "no longer pending"), ctx
            if not uow.hosts.claim(host_id, int(snap.generations[index]), offering.resources,
                                   workload.service_class):
                log.debug("claim on %s lost (attempt %d); re-reading the hosts", host_name, attempt)
                uow.rollback()
                # Only the hosts changed under us: re-read them, not the members, quotas and groups.
                ctx = replace(ctx, snapshot=load_snapshot(uow, clock(), settings.stale_after,
                                                          settings.default_carbon_g_per_kwh))
                continue
            uow.allocations.add(Allocation(new_id(), workload.id, host_id, offering.resources, now, None,
                                           workload.service_class))
            uow.commit()
        return PlacementOutcome(workload.id, True, host_id, message), \
            record_claim(ctx, workload, host_id, offering.resources)
    message = f"lost {settings.retries} races for hosts to other schedulers; will retry"
    with uow_factory() as uow:
        uow.workloads.update(workload.id, S.PENDING, now=clock(), message=message)
        uow.commit()
    return PlacementOutcome(workload.id, False, None, message), ctx


def _leave_pending(uow_factory: UowFactory, workload: Workload, decision: Decision, clock: Clock,
                   ctx: PlacementContext) -> PlacementOutcome:
    offering = ctx.offerings[workload.offering_id]
    summary = decision.summary()
    message = f"no host can take {offering.name} now ({summary}); retrying as capacity frees up"
    if workload.placement is None or workload.placement.summary != summary:
        explanation = PlacementExplanation(summary, decision.reason_counts, clock())
        with uow_factory() as uow:
            uow.workloads.explain(workload.id, explanation, message)
            uow.commit()
    return PlacementOutcome(workload.id, False, None, message)
