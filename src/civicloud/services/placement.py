"""Placement of pending workloads: decide on a snapshot, then claim with compare-and-swap.

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicloud.domain import Allocation, PlacementExplanation, Workload, WorkloadState
from civicloud.scheduler import Decision, profile_for, schedule
from civicloud.services._common import UowFactory, new_id, utcnow
from civicloud.services.snapshots import PlacementContext, load_context, record_claim, request_for
from civicloud.settings import Settings
from civicloud.store import UnitOfWork
from civicloud.store.repositories import Claim

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
    batch: int = 500  # pending workloads one pass takes
    claim_batch: int = 32  # placements written per transaction
    default_carbon_g_per_kwh: float = 52.0
    metering_grace: timedelta = timedelta(minutes=10)  # an hour is rolled up this long after it closed

    def context(self, uow: UnitOfWork, now: datetime) -> PlacementContext:
        """Everything a pass reads from the store, as these settings say to read it."""
        return load_context(uow, now, self.stale_after, self.default_carbon_g_per_kwh)

    @classmethod
    def of(cls, settings: Settings) -> PlacementSettings:
        return cls(stale_after=timedelta(seconds=settings.host_stale_after_s), retries=settings.claim_retries,
                   batch=settings.placement_batch, default_carbon_g_per_kwh=settings.default_carbon_g_per_kwh,
                   metering_grace=timedelta(seconds=settings.metering_grace_s))


BatchObserver = Callable[[float, int], None]


def place_pending(uow_factory: UowFactory, settings: PlacementSettings, clock: Clock = utcnow,
                  observe: BatchObserver | None = None) -> list[PlacementOutcome]:
    """Place every pending workload, oldest first, reading them ``settings.batch`` at a time.

    The whole queue is walked on every pass, so requests nothing can take now (a region without a
    site, an offer closed for the day) never hold back newer ones that fit.

    ``observe(seconds, workloads)`` is called after each batch with its duration, from its first decision
    to its commit: the latency a workload of that batch saw (benchmarks and metrics use it)."""
    outcomes: list[PlacementOutcome] = []
    ctx: PlacementContext | None = None
    after: tuple[datetime, str] | None = None
    while True:
        with uow_factory() as uow:
            page = uow.workloads.pending(settings.batch, after=after)
            if not page:
                return outcomes
            if ctx is None:
                ctx = settings.context(uow, clock())
        after = (page[-1].created_at, page[-1].id)
        for start in range(0, len(page), settings.claim_batch):
            chunk = page[start:start + settings.claim_batch]
            began = time.perf_counter()
            done, ctx = _place_batch(uow_factory, ctx, chunk, settings, clock)
            if observe is not None:
                observe(time.perf_counter() - began, len(chunk))
            outcomes += done
        if len(page) < settings.batch:
            return outcomes


def _decide(ctx: PlacementContext, workload: Workload) -> Decision:
    return schedule(ctx.snapshot, request_for(ctx, workload), profile_for(workload.service_class))


def _explanation(ctx: PlacementContext, workload: Workload, decision: Decision,
                 now: datetime) -> tuple[PlacementExplanation, str]:
    summary = decision.summary()
    message = f"no host can take {ctx.offerings[workload.offering_id].name} now ({summary}); " \
              "retrying as capacity frees up"
    return PlacementExplanation(summary, decision.reason_counts, now), message


def _placed(ctx: PlacementContext, index: int, decision: Decision) -> str:
    return f"placed at {ctx.snapshot.site_name(index)} ({decision.summary()})"


def _place_batch(uow_factory: UowFactory, ctx: PlacementContext, chunk: list[Workload], settings: PlacementSettings,
                 clock: Clock) -> tuple[list[PlacementOutcome], PlacementContext]:
    before = ctx
    now = clock()
    claims: list[Claim] = []
    explained: list[tuple[str, PlacementExplanation, str]] = []
    outcomes: list[PlacementOutcome] = []
    for workload in chunk:
        decision = _decide(ctx, workload)
        host_id = decision.best
        if host_id is None:
            explanation, message = _explanation(ctx, workload, decision, now)
            if workload.placement is None or workload.placement.summary != explanation.summary:
                explained.append((workload.id, explanation, message))
            outcomes.append(PlacementOutcome(workload.id, False, None, message))
            continue
        index = ctx.snapshot.index_of[host_id]
        offering = ctx.offerings[workload.offering_id]
        message = _placed(ctx, index, decision)
        claims.append(Claim(new_id(), workload.id, host_id, int(ctx.snapshot.generations[index]),
                            offering.resources, workload.service_class, message))
        outcomes.append(PlacementOutcome(workload.id, True, host_id, message))
        ctx = record_claim(ctx, workload, host_id, offering.resources)
    with uow_factory() as uow:
        committed = uow.claims.claim_all(claims, now)
        if committed:
            uow.commit()
        else:
            uow.rollback()
            log.debug("a batch of %d claims met a concurrent change; placing them one by one", len(claims))
            ctx = _fresh(uow, before, clock, settings)
    if committed:
        # Apart from the claims: explanations touch other workloads' rows, and taking those locks in the
        # claims' transaction could deadlock with another replica's batch.
        if explained:
            with uow_factory() as uow:
                uow.workloads.explain_many(explained)
                uow.commit()
        return outcomes, ctx
    outcomes = []
    for workload in chunk:
        outcome, ctx = _place_one(uow_factory, ctx, workload, settings, clock)
        outcomes.append(outcome)
    return outcomes, ctx


def _fresh(uow: UnitOfWork, ctx: PlacementContext, clock: Clock, settings: PlacementSettings) -> PlacementContext:
    """After a lost claim: the hosts, and what other schedulers placed (quotas, groups), read again."""
    return settings.context(uow, clock())


def _place_one(uow_factory: UowFactory, ctx: PlacementContext, workload: Workload, settings: PlacementSettings,
               clock: Clock) -> tuple[PlacementOutcome, PlacementContext]:
    for attempt in range(1, settings.retries + 1):
        decision = _decide(ctx, workload)
        host_id = decision.best
        now = clock()
        if host_id is None:
            explanation, message = _explanation(ctx, workload, decision, now)
            with uow_factory() as uow:
                uow.workloads.explain(workload.id, explanation, message)
                uow.commit()
            return PlacementOutcome(workload.id, False, None, message), ctx
        index = ctx.snapshot.index_of[host_id]
        offering = ctx.offerings[workload.offering_id]
        message = _placed(ctx, index, decision)
        with uow_factory() as uow:
            # The workload's compare-and-swap goes first: a rival scheduler that placed it elsewhere has
            # either lost here already, or won and makes this update miss.
            if not uow.workloads.update(workload.id, S.PENDING, now=now, state=S.SCHEDULED, host_id=host_id,
                                        message=message):
                return PlacementOutcome(workload.id, False, None, "no longer pending"), ctx
            if not uow.hosts.claim(host_id, int(ctx.snapshot.generations[index]), offering.resources,
                                   workload.service_class):
                log.debug("claim on %s lost (attempt %d); re-reading the hosts", host_id, attempt)
                uow.rollback()
                ctx = _fresh(uow, ctx, clock, settings)
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
