"""The placement context: everything a pass decides on, read from the store once. Pure.

``services.snapshots.load_context`` builds it; the planners (``scheduler.planning``) read it and return the
context after their decisions, so one pass decides on what it has already decided. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from civicloud.domain import (
    Member,
    Offering,
    PlacementGroup,
    Quota,
    Resources,
    Workload,
)
from civicloud.domain.members import quota_breach
from civicloud.scheduler.framework import GroupConstraint, QuotaExceeded, Request
from civicloud.scheduler.snapshot import Snapshot


@dataclass(frozen=True)
class PlacementContext:
    """Everything a placement pass reads from the store, once."""

    snapshot: Snapshot
    members: Mapping[str, Member]
    offerings: Mapping[str, Offering]
    groups: Mapping[str, PlacementGroup]
    group_hosts: Mapping[str, Mapping[str, int]]  # group -> host -> how many of its placed workloads are there
    usage: Mapping[tuple[str, str], tuple[Resources, int]]  # (member, class) -> held, placed live workloads
    quotas: Mapping[str, Mapping[str, Quota]]  # member -> class -> quota, from the agreement in force
    member_location: Mapping[str, tuple[float, float]]


def quota_exceeded(ctx: PlacementContext, workload: Workload, need: Resources) -> QuotaExceeded | None:
    """The quota rule at placement: what the member's placed workloads hold, plus ``need``
    (``domain.members.quota_breach``)."""
    cls = workload.service_class.value
    held, live = ctx.usage.get((workload.member_id, cls), (Resources(), 0))
    breach = quota_breach(ctx.quotas.get(workload.member_id, {}).get(cls), cls, held, live, need)
    return None if breach is None else QuotaExceeded(breach.field, breach.limit, breach.used)


def request_for(ctx: PlacementContext, workload: Workload) -> Request:
    offering = ctx.offerings[workload.offering_id]
    member = ctx.members[workload.member_id]
    group = None
    if workload.group_id is not None and workload.group_id in ctx.groups:
        hosts = frozenset(h for h, n in ctx.group_hosts.get(workload.group_id, {}).items() if n > 0)
        snap = ctx.snapshot
        sites = frozenset(snap.sites[snap.site_of[snap.index_of[h]]].id.split("#")[0]
                          for h in hosts if h in snap.index_of)
        group = GroupConstraint(ctx.groups[workload.group_id].policy.value, hosts, sites)
    return Request(workload.id, offering.resources.as_tuple(), workload.service_class, member.id, member.category,
                   offering.hds_activities, offering.traits, workload.residency, group,
                   quota_exceeded(ctx, workload, offering.resources), ctx.member_location.get(member.id))


def record_claim(ctx: PlacementContext, workload: Workload, host_id: str, need: Resources) -> PlacementContext:
    """The context after one more claim, so the rest of the pass sees it. ``ctx`` itself is left as it was:
    a batch whose claims roll back goes on from the context it started with."""
    snap = ctx.snapshot
    key = (workload.member_id, workload.service_class.value)
    held, live = ctx.usage.get(key, (Resources(), 0))
    usage = {**ctx.usage, key: (held + need, live + 1)}
    group_hosts = _counted(ctx.group_hosts, workload.group_id, host_id, +1)
    vector = np.array(need.as_tuple(), dtype=np.float64)
    return replace(ctx, snapshot=snap.with_claim(snap.index_of[host_id], vector, workload.service_class),
                   usage=usage, group_hosts=group_hosts)


def without(ctx: PlacementContext, workload: Workload, held: Resources, *, free_host: bool) -> PlacementContext:
    """This context without workload ``workload``, which holds ``held``: its member's quota no longer counts it,
    nor does its placement group (the workload does not keep itself off its own host or site) and, with
    ``free_host``, its host has that room back (a resize measures the new size against the host as if the
    workload were not there; a move keeps the old host as it is until the move is done)."""
    key = (workload.member_id, workload.service_class.value)
    used, live = ctx.usage.get(key, (Resources(), 0))
    group_hosts = ctx.group_hosts if workload.host_id is None else \
        _counted(ctx.group_hosts, workload.group_id, workload.host_id, -1)
    narrowed = replace(ctx, usage={**ctx.usage, key: (used - held, live - 1)}, group_hosts=group_hosts)
    snap = ctx.snapshot
    if not free_host or workload.host_id is None or workload.host_id not in snap.index_of:
        return narrowed
    freed = snap.with_claim(snap.index_of[workload.host_id], -np.array(held.as_tuple(), dtype=np.float64),
                            workload.service_class)
    # Freeing is not a claim: the host's generation stays what the store has, so a claim decided on this
    # context is compared with the generation the host really has.
    return replace(narrowed, snapshot=replace(freed, generations=snap.generations))


def with_host_changed(ctx: PlacementContext, host_id: str) -> PlacementContext:
    """The context after a write that moves a host's generation without changing its allocations (an
    eviction's compare-and-swap): a later claim decided on it compares the generation the store will have."""
    snap = ctx.snapshot
    generations = snap.generations.copy()
    generations[snap.index_of[host_id]] += 1
    return replace(ctx, snapshot=replace(snap, generations=generations))


def _counted(group_hosts: Mapping[str, Mapping[str, int]], group_id: str | None, host_id: str,
             delta: int) -> Mapping[str, Mapping[str, int]]:
    """``group_hosts`` with one more (``delta`` +1) or one fewer (-1) of ``group_id``'s workloads on ``host_id``."""
    if group_id is None:
        return group_hosts
    on = dict(group_hosts.get(group_id, {}))
    count = on.get(host_id, 0) + delta
    if count > 0:
        on[host_id] = count
    else:
        on.pop(host_id, None)
    return {**group_hosts, group_id: on}
