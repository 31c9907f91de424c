"""Decide, then apply: the planners of placement, reclaim and resize. Pure.

A planner reads a ``PlacementContext`` (and the few facts it names) and returns a plan: what to write, with
the generation of every host each write must still find, and the message each workload will carry. The
services apply a plan with compare-and-swap and, when a write loses a race (another control-plane replica,
an agent's report, a person's request got there first), load the context again and plan again. Nothing here
reads the clock or the store: ``now`` is a parameter, so the same decisions run on simulated time.

Where each rule lives:

- *which host takes a workload*: ``schedule`` (filters and scorers), through ``plan_placements``;
- *when a lender takes capacity back*: ``plan_reclaim`` — the hosts over what their owner allows now
  (``scheduler.reclaim.host_deficits``), the shortfall left once evictions already under way are counted
  (the in-flight deficit), the fewest newest harvest workloads that cover it (``choose_evictions``), their
  deadline (now + the offer's reclaim notice), the evictions called off on a host no longer short, and the
  re-placement of evicting workloads on other hosts;
- *whether a stopped workload may grow on its host*: ``plan_resize``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from civicloud.domain import (
    Offering,
    PlacementExplanation,
    Resources,
    ServiceClass,
    Workload,
    WorkloadState,
)
from civicloud.domain.capacity import RESOURCE_LABELS
from civicloud.scheduler.context import (
    PlacementContext,
    record_claim,
    request_for,
    with_host_changed,
    without,
)
from civicloud.scheduler.framework import Decision, Profile, schedule
from civicloud.scheduler.profiles import PROFILES
from civicloud.scheduler.reclaim import Evictable, choose_evictions, host_deficits

Profiles = Mapping[ServiceClass, Profile]
S = WorkloadState


def default_profiles() -> dict[ServiceClass, Profile]:
    """The harvest and guaranteed profiles of ``scheduler.profiles`` (settings may pass others)."""
    return dict(PROFILES)


def decide(ctx: PlacementContext, workload: Workload, profiles: Profiles) -> Decision:
    return schedule(ctx.snapshot, request_for(ctx, workload), profiles[workload.service_class])


# -- placement ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedClaim:
    workload: Workload
    host_id: str
    seen_generation: int  # the host's generation the claim must still find
    resources: Resources
    message: str


@dataclass(frozen=True)
class PlannedExplanation:
    workload_id: str
    explanation: PlacementExplanation
    message: str


@dataclass(frozen=True)
class PlacementOutcome:
    workload_id: str
    placed: bool
    host_id: str | None
    message: str


@dataclass(frozen=True)
class PlacementPlan:
    claims: tuple[PlannedClaim, ...]
    explanations: tuple[PlannedExplanation, ...]  # only those that changed since the workload's last one
    outcomes: tuple[PlacementOutcome, ...]  # one per workload planned, in order
    context: PlacementContext  # after the claims


def placed_message(ctx: PlacementContext, host_id: str, decision: Decision) -> str:
    return f"placed at {ctx.snapshot.site_name(ctx.snapshot.index_of[host_id])} ({decision.summary()})"


def unplaced(ctx: PlacementContext, workload: Workload, decision: Decision,
             now: datetime) -> tuple[PlacementExplanation, str]:
    summary = decision.summary()
    message = f"no host can take {ctx.offerings[workload.offering_id].name} now ({summary}); " \
              "retrying as capacity frees up"
    return PlacementExplanation(summary, decision.reason_counts, now), message


def plan_placements(ctx: PlacementContext, pending: Sequence[Workload], profiles: Profiles,
                    now: datetime) -> PlacementPlan:
    """Place ``pending`` in order, each on the context the ones before it left."""
    claims: list[PlannedClaim] = []
    explanations: list[PlannedExplanation] = []
    outcomes: list[PlacementOutcome] = []
    for workload in pending:
        decision = decide(ctx, workload, profiles)
        host_id = decision.best
        if host_id is None:
            explanation, message = unplaced(ctx, workload, decision, now)
            if workload.placement is None or workload.placement.summary != explanation.summary:
                explanations.append(PlannedExplanation(workload.id, explanation, message))
            outcomes.append(PlacementOutcome(workload.id, False, None, message))
            continue
        offering = ctx.offerings[workload.offering_id]
        message = placed_message(ctx, host_id, decision)
        claims.append(PlannedClaim(workload, host_id, int(ctx.snapshot.generations[ctx.snapshot.index_of[host_id]]),
                                   offering.resources, message))
        outcomes.append(PlacementOutcome(workload.id, True, host_id, message))
        ctx = record_claim(ctx, workload, host_id, offering.resources)
    return PlacementPlan(tuple(claims), tuple(explanations), tuple(outcomes), ctx)


# -- reclaim --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eviction:
    workload: Workload
    deadline: datetime
    message: str


@dataclass(frozen=True)
class HostEvictions:
    """The evictions on one host, written together behind the host's compare-and-swap."""

    host_id: str
    seen_generation: int
    evictions: tuple[Eviction, ...]
    short: str  # "6144 memory", what the host is short of


@dataclass(frozen=True)
class Cancellation:
    workload: Workload
    host_id: str
    message: str


@dataclass(frozen=True)
class Replacement:
    workload: Workload
    from_host: str
    to_host: str
    seen_generation: int  # the target host's
    resources: Resources
    message: str


@dataclass(frozen=True)
class ReclaimPlan:
    evictions: tuple[HostEvictions, ...] = ()
    cancellations: tuple[Cancellation, ...] = ()
    replacements: tuple[Replacement, ...] = ()
    context: PlacementContext | None = field(default=None, compare=False)  # after the re-placements

    def __bool__(self) -> bool:
        return bool(self.evictions or self.cancellations or self.replacements)


def short_text(deficit: np.ndarray) -> str:
    return ", ".join(f"{int(v)} {name}" for v, name in zip(deficit, RESOURCE_LABELS, strict=True) if v > 0)


def _why(ctx: PlacementContext, index: int, deficit: np.ndarray) -> str:
    """Which of the two limits is over: the offer's share now, or what the owner's own load leaves."""
    short = deficit > 0
    if (-ctx.snapshot.lent_room[short, index] >= deficit[short] - 1e-9).all():
        return "its offer lends less now"
    return "its own load grew"


def plan_reclaim(ctx: PlacementContext, held: Sequence[tuple[Workload, Resources]], profiles: Profiles,
                 now: datetime) -> ReclaimPlan:
    """What a reclaim pass does, given the harvest workloads ``held`` on hosts (with what each holds) — at
    least those on hosts that are short and every workload being evicted.

    1. A host no longer short: every eviction on it is called off (the workloads go back to running). A host
       whose agent is silent, or whose calendar cannot be evaluated, is neither: its evictions under way go
       on, and nothing more is evicted there.
    2. A short host: the shortfall left once its evictions under way are counted is covered by the fewest,
       newest harvest workloads on it (``choose_evictions``), each told to stop at now + the offer's notice.
    3. Every workload being evicted (under way, or just chosen) that another host can take now is re-placed
       there, afresh; its quota counts what it holds, so moving takes nothing more. The others wait for
       their deadline."""
    snap = ctx.snapshot
    deficits = host_deficits(snap)
    by_host: dict[str, list[tuple[Workload, Resources]]] = {}
    for w, r in held:
        if w.host_id is not None and w.host_id in snap.index_of:
            by_host.setdefault(w.host_id, []).append((w, r))
    host_evictions: list[HostEvictions] = []
    cancellations: list[Cancellation] = []
    moving: list[tuple[Workload, Resources]] = []
    for host_id in sorted(by_host):
        index = snap.index_of[host_id]
        deficit = deficits[:, index]
        on_host = by_host[host_id]
        going = [(w, r) for w, r in on_host if w.state is S.EVICTING]
        if not (snap.fresh[index] and snap.calendar_ok[index]):
            # Its agent is silent, or its calendar cannot be read: the owner's need is unknown there, not gone.
            # Nothing is called off and nothing more evicted; what is being evicted still looks for another host.
            moving += [(w, r) for w, r in going if w.desired.value != "absent"]
            continue
        if not deficit.any():
            cancellations += [Cancellation(w, host_id, "eviction called off: the owner of its host at "
                                                       f"{snap.site_name(index)} no longer needs the room")
                              for w, _r in going]
            continue
        moving += [(w, r) for w, r in going if w.desired.value != "absent"]
        in_flight = sum((np.array(r.as_tuple(), dtype=np.float64) for _w, r in going), np.zeros(4))
        left = deficit - in_flight
        if not (left > 0).any():
            continue  # the evictions under way free enough
        stay = [Evictable(w.id, r.as_tuple(), w.created_at) for w, r in on_host if w.state is not S.EVICTING]
        chosen = set(choose_evictions(left, stay))
        if not chosen:
            continue
        notice = snap.sites[snap.site_of[index]].offer.reclaim_notice_s
        deadline = now + timedelta(seconds=notice)
        why = _why(ctx, index, deficit)
        evictions = tuple(Eviction(w, deadline,
                                   f"the owner of its host at {snap.site_name(index)} takes it back ({why}): stops "
                                   f"at {deadline:%Y-%m-%d %H:%M:%S} UTC ({notice} s notice) unless re-placed first")
                          for w, _r in on_host if w.id in chosen)
        host_evictions.append(HostEvictions(host_id, int(snap.generations[index]), evictions, short_text(deficit)))
        ctx = with_host_changed(ctx, host_id)
        moving += [(replace(e.workload, state=S.EVICTING, evict_deadline=deadline), r)
                   for e in evictions for w, r in on_host if w.id == e.workload.id]
    replacements: list[Replacement] = []
    # Oldest deadline first: the workload that must stop soonest gets the first chance of a new host.
    for w, holds in sorted(moving, key=lambda item: (item[0].evict_deadline or now, item[0].id)):
        assert w.host_id is not None
        offering = ctx.offerings[w.offering_id]
        moved = without(ctx, w, holds, free_host=False)
        request = replace(request_for(moved, w), avoid_hosts=frozenset({w.host_id}))
        decision = schedule(moved.snapshot, request, profiles[w.service_class])
        target = decision.best
        if target is None:
            continue
        old_site = snap.site_name(snap.index_of[w.host_id]) if w.host_id in snap.index_of else "its site"
        replacements.append(Replacement(
            w, w.host_id, target, int(moved.snapshot.generations[moved.snapshot.index_of[target]]), offering.resources,
            f"re-placed at {moved.snapshot.site_name(moved.snapshot.index_of[target])} ({decision.summary()}) as the "
            f"owner of its host at {old_site} takes it back: starting afresh there"))
        ctx = record_claim(moved, w, target, offering.resources)
    return ReclaimPlan(tuple(host_evictions), tuple(cancellations), tuple(replacements), ctx)


# -- resize ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResizePlan:
    """A resize that fits (``refusal`` None: claim ``new.resources`` on the host at ``seen_generation``), or
    why the host cannot take it."""

    host_id: str
    seen_generation: int
    refusal: str | None  # the reason's text, from the filter that refused the host


def plan_resize(ctx: PlacementContext, workload: Workload, old: Offering, new: Offering,
                profiles: Profiles) -> ResizePlan:
    """Whether ``workload``'s host takes it at the size of ``new``: every placement filter, on the context
    without the workload's own allocation (that room is its own) — the same rules as a new placement, so a
    resize never takes the owner's room or another borrower's."""
    host_id = workload.host_id
    assert host_id is not None, "a workload is resized on the host it is placed on"
    freed = without(ctx, workload, old.resources, free_host=True)
    resized = replace(workload, offering_id=new.id)
    decision = schedule(freed.snapshot, request_for(freed, resized), profiles[workload.service_class])
    generation = int(ctx.snapshot.generations[ctx.snapshot.index_of[host_id]])
    rejected = decision.reason_for(host_id)
    if rejected is None:
        return ResizePlan(host_id, generation, None)
    texts = {code: text for _f, code, text, _n in decision.reason_counts}
    return ResizePlan(host_id, generation, texts.get(rejected[1], rejected[1]))
