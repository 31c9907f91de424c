"""Reclaim with notice: the lender's priority over its own hardware.

Each pass (run by the placement loop, before placement):

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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from civicloud.domain import Allocation, Resources, ServiceClass, Workload, WorkloadState
from civicloud.scheduler import Snapshot, profile_for, schedule
from civicloud.scheduler.reclaim import Evictable, choose_evictions, host_deficits
from civicloud.services._common import UowFactory, new_id
from civicloud.services.allocations import release_allocation
from civicloud.services.placement import Clock, PlacementSettings
from civicloud.services.snapshots import PlacementContext, record_claim, request_for

log = logging.getLogger(__name__)
S = WorkloadState
RESOURCE_NAMES = ("vCPU", "memory", "disk", "GPU")


@dataclass
class ReclaimOutcome:
    evicted: list[str] = field(default_factory=list)  # workloads put into evicting this pass
    cancelled: list[str] = field(default_factory=list)  # evictions called off
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (workload, new host)


def reclaim_pass(uow_factory: UowFactory, settings: PlacementSettings, clock: Clock) -> ReclaimOutcome:
    outcome = ReclaimOutcome()
    now = clock()
    with uow_factory() as uow:
        ctx = settings.context(uow, now)
        evicting = uow.workloads.evicting()
    deficits = host_deficits(ctx.snapshot)
    snap = ctx.snapshot
    short = {snap.host_ids[i] for i in np.flatnonzero(deficits.any(axis=0))}
    watched = sorted(short | {w.host_id for w in evicting if w.host_id})
    if watched:
        with uow_factory() as uow:
            held = uow.workloads.harvest_on_hosts(watched)
        for host_id in watched:
            if host_id not in snap.index_of:
                continue
            on_host = [(w, r) for w, r in held if w.host_id == host_id]
            _settle_host(uow_factory, ctx, host_id, deficits[:, snap.index_of[host_id]], on_host, now, outcome)
    if outcome.evicted or evicting:
        _replace_evicting(uow_factory, settings, clock, outcome)
    return outcome


def _settle_host(uow_factory: UowFactory, ctx: PlacementContext, host_id: str, deficit: np.ndarray,
                 on_host: list[tuple[Workload, Resources]], now: datetime, outcome: ReclaimOutcome) -> None:
    snap = ctx.snapshot
    index = snap.index_of[host_id]
    going = [(w, r) for w, r in on_host if w.state is S.EVICTING]
    with uow_factory() as uow:
        if not deficit.any():
            for w, _r in going:
                if uow.workloads.update(w.id, S.EVICTING, now=now, state=S.RUNNING, evict_deadline=None,
                                        message="eviction called off: the owner of its host at "
                                                f"{snap.site_name(index)} no longer needs the room"):
                    outcome.cancelled.append(w.id)
            uow.commit()
            return
        left = deficit - sum((np.array(r.as_tuple(), dtype=np.float64) for _w, r in going), np.zeros(4))
        if not (left > 0).any():
            return
        stay = [Evictable(w.id, r.as_tuple(), w.created_at) for w, r in on_host if w.state is not S.EVICTING]
        chosen = set(choose_evictions(left, stay))
        if not chosen:
            return
        site = snap.sites[snap.site_of[index]]
        notice = site.offer.reclaim_notice_s
        deadline = now + timedelta(seconds=notice)
        why = _why(snap, index, deficit)
        # The host's generation, as this pass read it: a rival replica that evicted first makes this miss.
        if not uow.hosts.claim(host_id, int(snap.generations[index]), Resources(), ServiceClass.HARVEST):
            uow.rollback()
            return
        marked = []
        for w, _r in on_host:
            if w.id in chosen and uow.workloads.update(
                    w.id, w.state, now=now, state=S.EVICTING, evict_deadline=deadline,
                    message=f"the owner of its host at {snap.site_name(index)} takes it back ({why}): stops at "
                            f"{deadline:%Y-%m-%d %H:%M:%S} UTC ({notice} s notice) unless re-placed first"):
                marked.append(w.id)
        uow.commit()
    outcome.evicted += marked
    log.info("host %s short of %s: evicting %s", snap.host_names[index], _short_text(deficit), ", ".join(marked))


def _why(snap: Snapshot, index: int, deficit: np.ndarray) -> str:
    """Which of the two limits is over: the offer's share now, or what the owner's own load leaves."""
    short = deficit > 0
    if (-snap.lent_room[short, index] >= deficit[short] - 1e-9).all():
        return "its offer lends less now"
    return "its own load grew"


def _short_text(deficit: np.ndarray) -> str:
    return ", ".join(f"{int(v)} {name}" for v, name in zip(deficit, RESOURCE_NAMES, strict=True) if v > 0)


def _replace_evicting(uow_factory: UowFactory, settings: PlacementSettings, clock: Clock,
                      outcome: ReclaimOutcome) -> None:
    """Move every evicting workload that another host can take now; the others wait for their deadline."""
    with uow_factory() as uow:
        ctx = settings.context(uow, clock())
        evicting = uow.workloads.evicting()
    for w in evicting:
        if w.host_id is None or w.desired.value == "absent":
            continue
        offering = ctx.offerings[w.offering_id]
        # Its quota counts what it holds now; moving it takes nothing more.
        key = (w.member_id, w.service_class.value)
        held, live = ctx.usage.get(key, (Resources(), 0))
        moving = replace(ctx, usage={**ctx.usage, key: (held - offering.resources, live - 1)})
        request = replace(request_for(moving, w), avoid_hosts=frozenset({w.host_id}))
        decision = schedule(ctx.snapshot, request, profile_for(w.service_class))
        target = decision.best
        if target is None:
            continue
        index = ctx.snapshot.index_of[target]
        now = clock()
        with uow_factory() as uow:
            old_site = ctx.snapshot.site_name(ctx.snapshot.index_of[w.host_id]) \
                if w.host_id in ctx.snapshot.index_of else "its site"
            message = (f"re-placed at {ctx.snapshot.site_name(index)} ({decision.summary()}) as the owner of its "
                       f"host at {old_site} takes it back: starting afresh there")
            if not uow.workloads.update(w.id, S.EVICTING, now=now, state=S.SCHEDULED, host_id=target,
                                        evict_deadline=None, message=message):
                continue  # stopped, deleted or called off meanwhile
            release_allocation(uow, w.id, now)
            if not uow.hosts.claim(target, int(ctx.snapshot.generations[index]), offering.resources,
                                   w.service_class):
                uow.rollback()
                ctx = settings.context(uow, clock())
                continue  # the next pass tries again on the hosts as they are then
            uow.allocations.add(Allocation(new_id(), w.id, target, offering.resources, now, None, w.service_class))
            uow.commit()
        ctx = record_claim(moving, w, target, offering.resources)
        outcome.replaced.append((w.id, target))
        log.info("re-placed evicted workload %s on %s", w.id, target)
