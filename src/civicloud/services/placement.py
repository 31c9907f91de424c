"""Placement of pending workloads: load, plan (``scheduler.planning.plan_placements``), apply with
compare-and-swap, and plan again on a lost race.

A pass reads the store once (hosts, offers, sites, members, quotas, groups),
then places pending workloads in arrival order against that snapshot, keeping
it current with each decision. Decisions are written in batches: one
transaction per batch carries, for each placement, the same compare-and-swaps
as a placement alone (the workload still pending; the host still at the
generation the decision read: ``UPDATE hosts … WHERE id = ? AND generation = ?``).
When any of them misses — another scheduler (a second server replica) got
there first — the batch rolls back, the hosts are re-read and its workloads
are placed one at a time, each retried a bounded number of times before it
is left pending with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from civicloud.clock import Clock, IdSource
from civicloud.domain import Allocation, ServiceClass, Workload, WorkloadState, events
from civicloud.scheduler import Profile
from civicloud.scheduler.planning import (
    PlacementOutcome,
    PlacementPlan,
    default_profiles,
    plan_placements,
)
from civicloud.scheduler.profiles import profiles_with
from civicloud.services._common import UowFactory, runtime_of
from civicloud.services.snapshots import ContextCache, PlacementContext, load_context
from civicloud.settings import Settings
from civicloud.store import UnitOfWork
from civicloud.store.repositories import Claim

log = logging.getLogger(__name__)
S = WorkloadState

__all__ = ["PlacementOutcome", "PlacementSettings", "place_pending"]


@dataclass(frozen=True)
class PlacementSettings:
    stale_after: timedelta = timedelta(seconds=60)
    retries: int = 5
    batch: int = 500  # pending workloads one pass takes
    claim_batch: int = 32  # placements written per transaction
    default_carbon_g_per_kwh: float = 52.0
    metering_grace: timedelta = timedelta(minutes=10)  # an hour is rolled up this long after it closed
    # The placement profile of each service class: filters in order, scorers with their weights.
    profiles: Mapping[ServiceClass, Profile] = field(default_factory=default_profiles)

    def context(self, uow: UnitOfWork, now: datetime) -> PlacementContext:
        """Everything a pass reads from the store, as these settings say to read it."""
        return load_context(uow, now, self.stale_after, self.default_carbon_g_per_kwh)

    def context_cache(self) -> ContextCache:
        """A cache of that context for a control loop: it re-reads only what moved (``ContextCache``)."""
        return ContextCache(self.stale_after, self.default_carbon_g_per_kwh)

    @classmethod
    def of(cls, settings: Settings) -> PlacementSettings:
        return cls(stale_after=timedelta(seconds=settings.host_stale_after_s), retries=settings.claim_retries,
                   batch=settings.placement_batch, default_carbon_g_per_kwh=settings.default_carbon_g_per_kwh,
                   metering_grace=timedelta(seconds=settings.metering_grace_s),
                   profiles=profiles_with({ServiceClass(c): w for c, w in settings.placement_weights.items()}))


BatchObserver = Callable[[float, int], None]
ContextSource = Callable[[UnitOfWork, datetime], PlacementContext]  # settings.context, or a ContextCache's


def place_pending(uow_factory: UowFactory, settings: PlacementSettings,
                  observe: BatchObserver | None = None, contexts: ContextSource | None = None
                  ) -> list[PlacementOutcome]:
    """Place every pending workload, oldest first, reading them ``settings.batch`` at a time.

    The whole queue is walked on every pass, so requests nothing can take now (a region without a
    site, an offer closed for the day) never hold back newer ones that fit.

    ``observe(seconds, workloads)`` is called after each batch with its duration, from its first decision
    to its commit: the latency a workload of that batch saw (benchmarks and metrics use it). Now and new
    ids are the units of work's (``runtime_of``). ``contexts`` reads the placement context (by default, all
    of it from the store; the control loop passes its ``ContextCache``)."""
    clock, new_id = runtime_of(uow_factory)
    contexts = contexts or settings.context
    outcomes: list[PlacementOutcome] = []
    ctx: PlacementContext | None = None
    after: tuple[datetime, str] | None = None
    while True:
        with uow_factory() as uow:
            page = uow.workloads.pending(settings.batch, after=after)
            if not page:
                return outcomes
            if ctx is None:
                ctx = contexts(uow, clock())
        after = (page[-1].created_at, page[-1].id)
        for start in range(0, len(page), settings.claim_batch):
            chunk = page[start:start + settings.claim_batch]
            began = time.perf_counter()
            done, ctx = _place_batch(uow_factory, ctx, chunk, settings, clock, new_id, contexts)
            if observe is not None:
                observe(time.perf_counter() - began, len(chunk))
            outcomes += done
        if len(page) < settings.batch:
            return outcomes


def _place_batch(uow_factory: UowFactory, ctx: PlacementContext, chunk: list[Workload], settings: PlacementSettings,
                 clock: Clock, new_id: IdSource, contexts: ContextSource
                 ) -> tuple[list[PlacementOutcome], PlacementContext]:
    """Plan the chunk on ``ctx``, apply the plan in one transaction; when any compare-and-swap misses, the
    hosts are read again and the chunk is planned and applied one workload at a time."""
    now = clock()
    plan = plan_placements(ctx, chunk, settings.profiles, now)
    with uow_factory() as uow:
        committed = _apply(uow, plan, now, new_id)
        if not committed:
            uow.rollback()
            log.debug("a batch of %d claims met a concurrent change; placing them one by one", len(plan.claims))
            ctx = contexts(uow, clock())
    if committed:
        # Apart from the claims: explanations touch other workloads' rows, and taking those locks in the
        # claims' transaction could deadlock with another replica's batch.
        _explain(uow_factory, plan)
        return list(plan.outcomes), plan.context
    outcomes = []
    for workload in chunk:
        outcome, ctx = _place_one(uow_factory, ctx, workload, settings, clock, new_id, contexts)
        outcomes.append(outcome)
    return outcomes, ctx


def _apply(uow: UnitOfWork, plan: PlacementPlan, now: datetime, new_id: IdSource) -> bool:
    """Every claim of ``plan`` with its compare-and-swaps, and its audit events, committed; False (nothing
    kept) as soon as one misses."""
    claims = [Claim(new_id(), c.workload.id, c.host_id, c.seen_generation, c.resources, c.workload.service_class,
                    c.message) for c in plan.claims]
    if not uow.claims.claim_all(claims, now):
        return False
    uow.emit(*(events.placed(c.workload.id, c.workload.member_id, c.host_id) for c in plan.claims))
    uow.commit()
    return True


def _explain(uow_factory: UowFactory, plan: PlacementPlan) -> None:
    if plan.explanations:
        with uow_factory() as uow:
            uow.workloads.explain_many([(e.workload_id, e.explanation, e.message) for e in plan.explanations])
            uow.commit()


def _place_one(uow_factory: UowFactory, ctx: PlacementContext, workload: Workload, settings: PlacementSettings,
               clock: Clock, new_id: IdSource, contexts: ContextSource) -> tuple[PlacementOutcome, PlacementContext]:
    for attempt in range(1, settings.retries + 1):
        now = clock()
        plan = plan_placements(ctx, [workload], settings.profiles, now)
        if not plan.claims:
            _explain(uow_factory, plan)
            return plan.outcomes[0], ctx
        claim = plan.claims[0]
        with uow_factory() as uow:
            # The workload's compare-and-swap goes first: a rival scheduler that placed it elsewhere has
            # either lost here already, or won and makes this update miss.
            if not uow.workloads.update(workload.id, S.PENDING, now=now, state=S.SCHEDULED, host_id=claim.host_id,
                                        message=claim.message):
                return PlacementOutcome(workload.id, False, None, "no longer pending"), ctx
            if not uow.hosts.claim(claim.host_id, claim.seen_generation, claim.resources, workload.service_class):
                log.debug("claim on %s lost (attempt %d); re-reading the hosts", claim.host_id, attempt)
                uow.rollback()
                ctx = contexts(uow, clock())
                continue
            uow.allocations.add(Allocation(new_id(), workload.id, claim.host_id, claim.resources, now, None,
                                           workload.service_class))
            uow.emit(events.placed(workload.id, workload.member_id, claim.host_id))
            uow.commit()
        return plan.outcomes[0], plan.context
    message = f"lost {settings.retries} races for hosts to other schedulers; will retry"
    with uow_factory() as uow:
        uow.workloads.update(workload.id, S.PENDING, now=clock(), message=message)
        uow.commit()
    return PlacementOutcome(workload.id, False, None, message), ctx
