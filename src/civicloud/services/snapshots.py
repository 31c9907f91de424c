"""From the store to the scheduler's inputs: the snapshot of hosts and the request of a workload."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from civicloud.domain import (
    Host,
    Member,
    Offer,
    Offering,
    PlacementGroup,
    Quota,
    Resources,
    Site,
    Workload,
    department_of,
    region_of,
)
from civicloud.scheduler import GroupConstraint, HostRow, QuotaExceeded, Request, SiteFacts, Snapshot, build_snapshot
from civicloud.services.sites import NO_OFFER, holidays_of
from civicloud.store import UnitOfWork


@dataclass(frozen=True)
class PlacementContext:
    """Everything a placement pass reads from the store, once."""

    snapshot: Snapshot
    members: Mapping[str, Member]
    offerings: Mapping[str, Offering]
    groups: Mapping[str, PlacementGroup]
    group_hosts: Mapping[str, set[str]]  # group -> hosts of its placed workloads
    usage: Mapping[tuple[str, str], tuple[Resources, int]]  # (member, class) -> held, placed live workloads
    quotas: Mapping[str, Mapping[str, Quota]]  # member -> class -> quota, from the agreement in force
    member_location: Mapping[str, tuple[float, float]]


def site_facts(site: Site, offer: Offer, default_carbon: float) -> SiteFacts:
    department = department_of(site.insee_code)
    return SiteFacts(site.id, site.name, site.member_id, site.timezone, department, region_of(site.insee_code), offer,
                     site.certifications, site.country,
                     default_carbon if site.carbon_g_per_kwh is None else site.carbon_g_per_kwh,
                     site.latitude, site.longitude, holidays_of(site))


def host_row(host: Host) -> HostRow:
    return HostRow(host.id, host.name, host.site_id, host.total.as_tuple(), host.reserved.as_tuple(),
                   (host.ratios.cpu, host.ratios.ram, host.ratios.disk, 1.0), host.allocated.as_tuple(),
                   host.allocated_guaranteed.as_tuple(), host.owner_used.as_tuple(), host.generation,
                   host.last_seen_at)


def effective_offers(uow: UnitOfWork, sites: list[Site], hosts: list[Host]) -> tuple[dict[str, Offer],
                                                                                     dict[str, Offer]]:
    """(site id -> site's offer, host id -> the host's own offer where the lender set one)."""
    offers = uow.offers.all()
    by_site = {s.id: offers.get((s.id, None), NO_OFFER) for s in sites}
    by_host = {h.id: offers[(h.site_id, h.id)] for h in hosts if (h.site_id, h.id) in offers}
    return by_site, by_host


def load_snapshot(uow: UnitOfWork, now: datetime, stale_after: timedelta, default_carbon: float) -> Snapshot:
    sites = uow.sites.list()
    hosts = uow.hosts.list()
    by_site, by_host = effective_offers(uow, sites, hosts)
    facts = [site_facts(s, by_site[s.id], default_carbon) for s in sites]
    rows = [host_row(h) for h in hosts]
    if by_host:
        # A host with an offer of its own is seen by the scheduler as the one host of a copy of its site
        # carrying that offer; the copy's id is "<site id>#<host id>", and everything else is the site's.
        known = {f.id: f for f in facts}
        for i, h in enumerate(hosts):
            if h.id in by_host:
                override = replace(known[h.site_id], id=f"{h.site_id}#{h.id}", offer=by_host[h.id])
                facts.append(override)
                rows[i] = replace(rows[i], site_id=override.id)
    return build_snapshot(rows, facts, now, stale_after)


def load_context(uow: UnitOfWork, now: datetime, stale_after: timedelta, default_carbon: float) -> PlacementContext:
    snapshot = load_snapshot(uow, now, stale_after, default_carbon)
    members = {m.id: m for m in uow.members.list()}
    # The agreement in force that started last governs; one without quotas means no limit.
    quotas: dict[str, Mapping[str, Quota]] = {}
    in_force = sorted((a for a in uow.agreements.all() if a.in_force(now.date())), key=lambda a: (a.valid_from, a.id))
    for agreement in in_force:
        quotas[agreement.member_id] = agreement.quotas
    # A borrower's location: the first of its sites that has coordinates.
    location: dict[str, tuple[float, float]] = {}
    for site in uow.sites.list():
        if site.latitude is not None and site.longitude is not None:
            location.setdefault(site.member_id, (site.latitude, site.longitude))
    return PlacementContext(snapshot, members, {o.id: o for o in uow.offerings.list()},
                            {g.id: g for g in uow.groups.list()}, uow.workloads.group_hosts(),
                            uow.workloads.usage_by_member(), quotas, location)


def quota_exceeded(ctx: PlacementContext, workload: Workload, need: Resources) -> QuotaExceeded | None:
    quota = ctx.quotas.get(workload.member_id, {}).get(workload.service_class.value)
    if quota is None:
        return None
    held, live = ctx.usage.get((workload.member_id, workload.service_class.value), (Resources(), 0))
    for name in ("vcpus", "memory_mib", "disk_gib"):
        limit = getattr(quota, name)
        if limit is not None and getattr(held, name) + getattr(need, name) > limit:
            return QuotaExceeded(f"{workload.service_class.value}.{name}", limit, getattr(held, name))
    if quota.workloads is not None and live + 1 > quota.workloads:
        return QuotaExceeded(f"{workload.service_class.value}.workloads", quota.workloads, live)
    return None


def request_for(ctx: PlacementContext, workload: Workload) -> Request:
    offering = ctx.offerings[workload.offering_id]
    member = ctx.members[workload.member_id]
    group = None
    if workload.group_id is not None and workload.group_id in ctx.groups:
        hosts = frozenset(ctx.group_hosts.get(workload.group_id, set()))
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
    group_hosts = ctx.group_hosts
    if workload.group_id is not None:
        group_hosts = {**group_hosts, workload.group_id: group_hosts.get(workload.group_id, set()) | {host_id}}
    vector = np.array(need.as_tuple(), dtype=np.float64)
    return replace(ctx, snapshot=snap.with_claim(snap.index_of[host_id], vector, workload.service_class),
                   usage=usage, group_hosts=group_hosts)
