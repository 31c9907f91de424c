"""The service catalogue (offerings) and the hosts agents have reported."""

from __future__ import annotations

from dataclasses import replace

from civicloud.domain import TRAITS, Host, Offering, Resources
from civicloud.errors import Conflict, InvalidInput, NotFound
from civicloud.services._common import new_id, utcnow
from civicloud.services.sites import require_site, share_now
from civicloud.services.snapshots import effective_offers
from civicloud.store import UnitOfWork
from civicloud.wire import OfferingCreate


def create_offering(uow: UnitOfWork, cmd: OfferingCreate) -> Offering:
    unknown = set(cmd.traits) - TRAITS
    if unknown:
        raise InvalidInput(f"unknown certification trait(s) {', '.join(sorted(unknown))}; known: "
                           f"{', '.join(sorted(TRAITS))}", code="civicloud.offering.invalid_trait", field="traits")
    offering = Offering(new_id(), cmd.name, cmd.description,
                        Resources(cmd.vcpus, cmd.memory_mib, cmd.disk_gib, cmd.gpus), cmd.service_class,
                        frozenset(cmd.hds_activities), frozenset(cmd.traits))
    with uow:
        if uow.offerings.get_by_name(cmd.name) is not None:
            raise Conflict(f"an offering named {cmd.name!r} already exists", code="civicloud.offering.name_taken")
        uow.offerings.add(offering)
        uow.commit()
    return offering


def require_offering(uow: UnitOfWork, ref: str) -> Offering:
    offering = uow.offerings.get(ref) or uow.offerings.get_by_name(ref)
    if offering is None:
        raise NotFound.of("offering", ref)
    return offering


def get_offering(uow: UnitOfWork, ref: str) -> Offering:
    with uow:
        return require_offering(uow, ref)


def list_offerings(uow: UnitOfWork) -> list[Offering]:
    with uow:
        return uow.offerings.list()


def list_hosts(uow: UnitOfWork, site_ref: str | None = None) -> list[Host]:
    """Hosts with the share each lends right now (its own offer, or its site's)."""
    with uow:
        site_id = require_site(uow, site_ref).id if site_ref is not None else None
        hosts = uow.hosts.list(site_id)
        sites = {s.id: s for s in uow.sites.list()}
        by_site, by_host = effective_offers(uow, list(sites.values()), hosts)
    now = utcnow()
    site_share = {sid: share_now(sites[sid], offer, now) for sid, offer in by_site.items()}
    return [replace(h, lend_share_percent=share_now(sites[h.site_id], by_host[h.id], now) if h.id in by_host
                    else site_share[h.site_id]) for h in hosts]


def get_host(uow: UnitOfWork, host_id: str) -> Host:
    with uow:
        host = uow.hosts.get(host_id)
        if host is None:
            raise NotFound.of("host", host_id)
        site_id = host.site_id
    return next(h for h in list_hosts(uow, site_id) if h.id == host_id)
