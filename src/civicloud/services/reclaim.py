"""Reclaim with notice: the lender's priority over its own hardware.

This module loads and applies; what to do is decided by ``scheduler.planning.plan_reclaim`` (pure). Each
pass (run by the placement loop, before placement):

1. reads the federation once (the placement context) and finds the hosts where
   civicloud holds more than the owner allows now — its offer's calendar closed
   or narrowed, or the owner's own load grew (``scheduler.reclaim``);
2. on each such host, puts the fewest harvest workloads that free enough into
   ``evicting``, with a deadline of now + the offer's reclaim notice; the host's
   generation is bumped in the same transaction, so two control-plane replicas
   never both evict for the same shortfall;
3. on a host that no longer falls short, evictions not yet carried out are
   called off: the workloads go back to ``running``;
4. tries to re-place every evicting workload on another host (never the one
   being reclaimed): a fresh start there, its allocation moved in one
   transaction. The old host's agent removes the domain at its next pass.

At the deadline the agent stops what was not re-placed (it keeps the deadline
itself, so it does so even when the control plane is out of reach) and
reports it; the report releases the allocation and queues the workload again
(``pending``), to start wherever room appears.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from civicloud.clock import IdSource
from civicloud.domain import Allocation, Resources, ServiceClass, WorkloadState, events
from civicloud.scheduler.planning import (
    HostEvictions,
    ReclaimPlan,
    Replacement,
    plan_reclaim,
)
from civicloud.scheduler.reclaim import host_deficits
from civicloud.services._common import UowFactory, runtime_of
from civicloud.services.allocations import release_allocation
from civicloud.services.placement import ContextSource, PlacementSettings

log = logging.getLogger(__name__)
S = WorkloadState


@dataclass
class ReclaimOutcome:
    evicted: list[str] = field(default_factory=list)  # workloads put into evicting this pass
    cancelled: list[str] = field(default_factory=list)  # evictions called off
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (workload, new host)


def reclaim_pass(uow_factory: UowFactory, settings: PlacementSettings,
                 contexts: ContextSource | None = None) -> ReclaimOutcome:
    """Load the context and the harvest workloads on the hosts concerned, plan (``plan_reclaim``), apply;
    when a compare-and-swap misses (another replica evicted or placed first, an agent's report moved a
    workload on), load and plan again, at most ``settings.retries`` times; what is still left waits for the
    next pass. ``contexts`` reads the placement context, as for ``place_pending``."""
    clock, new_id = runtime_of(uow_factory)
    contexts = contexts or settings.context
    outcome = ReclaimOutcome()
    for _attempt in range(settings.retries):
        now = clock()
        with uow_factory() as uow:
            ctx = contexts(uow, now)
            evicting = uow.workloads.evicting()
            snap = ctx.snapshot
            short = {snap.host_ids[i] for i in np.flatnonzero(host_deficits(snap).any(axis=0))}
            watched = sorted(short | {w.host_id for w in evicting if w.host_id})
            if not watched:
                return outcome
            held = uow.workloads.harvest_on_hosts(watched)
        plan = plan_reclaim(ctx, held, settings.profiles, now)
        if not plan or _apply(uow_factory, plan, new_id, outcome):
            return outcome
        log.debug("a reclaim write met a concurrent change; planning again")
    return outcome


def _apply(uow_factory: UowFactory, plan: ReclaimPlan, new_id: IdSource, outcome: ReclaimOutcome) -> bool:
    """Apply ``plan``; False when a write lost a race (what was applied before it stays: each host's
    evictions, each cancellation and each move is a transaction of its own)."""
    complete = True
    for host in plan.evictions:
        complete &= _evict(uow_factory, host, outcome)
    for c in plan.cancellations:
        with uow_factory() as uow:
            if uow.workloads.update(c.workload.id, S.EVICTING, now=uow.clock(), state=S.RUNNING, evict_deadline=None,
                                    message=c.message):
                uow.emit(events.eviction_called_off(c.workload.id, c.workload.member_id, c.host_id))
                uow.commit()
                outcome.cancelled.append(c.workload.id)
    for move in plan.replacements:
        complete &= _move(uow_factory, move, new_id, outcome)
    return complete


def _evict(uow_factory: UowFactory, host: HostEvictions, outcome: ReclaimOutcome) -> bool:
    with uow_factory() as uow:
        # The host's generation, as the plan read it: a rival replica that evicted first makes this miss.
        if not uow.hosts.claim(host.host_id, host.seen_generation, Resources(), ServiceClass.HARVEST):
            return False
        marked = []
        for e in host.evictions:
            if uow.workloads.update(e.workload.id, e.workload.state, now=uow.clock(), state=S.EVICTING,
                                    evict_deadline=e.deadline, message=e.message):
                uow.emit(events.evicted(e.workload.id, e.workload.member_id, host.host_id, e.deadline))
                marked.append(e.workload.id)
        uow.commit()
    outcome.evicted += marked
    log.info("host %s short of %s: evicting %s", host.host_id, host.short, ", ".join(marked))
    return len(marked) == len(host.evictions)


def _move(uow_factory: UowFactory, move: Replacement, new_id: IdSource, outcome: ReclaimOutcome) -> bool:
    """Re-place an evicting workload: its state, the old host's allocation and the new host's claim move in
    one transaction."""
    w = move.workload
    with uow_factory() as uow:
        now = uow.clock()
        if not uow.workloads.update(w.id, S.EVICTING, now=now, state=S.SCHEDULED, host_id=move.to_host,
                                    evict_deadline=None, message=move.message):
            return False  # stopped, deleted or called off meanwhile
        release_allocation(uow, w.id, now)
        if not uow.hosts.claim(move.to_host, move.seen_generation, move.resources, w.service_class):
            uow.rollback()
            return False
        uow.allocations.add(Allocation(new_id(), w.id, move.to_host, move.resources, now, None, w.service_class))
        uow.emit(events.replaced(w.id, w.member_id, move.from_host, move.to_host))
        uow.commit()
    outcome.replaced.append((w.id, move.to_host))
    log.info("re-placed evicted workload %s on %s", w.id, move.to_host)
    return True

