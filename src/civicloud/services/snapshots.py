"""From the store to the scheduler's inputs: the snapshot of hosts and the placement context of a pass.

The context itself, and what is decided on it (``request_for``, ``record_claim``, ``without``), are pure and
live in ``scheduler.context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from civicloud.domain import Host, Offer, Quota, Site, department_of, region_of
from civicloud.domain.members import agreements_in_force
from civicloud.scheduler import HostRow, SiteFacts, Snapshot, build_snapshot
from civicloud.scheduler.context import PlacementContext
from civicloud.services.sites import NO_OFFER, holidays_of
from civicloud.store import UnitOfWork

__all__ = ["PlacementContext", "effective_offers", "host_row", "load_context", "load_snapshot", "site_facts"]


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
    # The agreement in force governs (domain.members.agreements_in_force); one without quotas means no limit.
    quotas: dict[str, Mapping[str, Quota]] = {
        member_id: a.quotas for member_id, a in agreements_in_force(uow.agreements.all(), now.date()).items()}
    # A borrower's location: the first of its sites that has coordinates.
    location: dict[str, tuple[float, float]] = {}
    for site in uow.sites.list():
        if site.latitude is not None and site.longitude is not None:
            location.setdefault(site.member_id, (site.latitude, site.longitude))
    return PlacementContext(snapshot, members, {o.id: o for o in uow.offerings.list()},
                            {g.id: g for g in uow.groups.list()}, uow.workloads.group_hosts(),
                            uow.workloads.usage_by_member(), quotas, location)
