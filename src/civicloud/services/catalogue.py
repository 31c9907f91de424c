"""The service catalogue (offerings) and the hosts agents have reported."""

from __future__ import annotations

from dataclasses import replace

from civicloud.domain import TRAITS, Host, Offering, Ratios, Resources
from civicloud.domain.events import ROOM_CHANGED
from civicloud.errors import Conflict, InvalidInput, NotFound
from civicloud.services.access import Caller, operation, scope_of
from civicloud.services.sites import require_site, share_now
from civicloud.services.snapshots import effective_offers
from civicloud.store import UnitOfWork
from civicloud.wire import HostPowerSet, HostReserveSet, OfferingCreate


@operation("offerings.create")
def create_offering(uow: UnitOfWork, caller: Caller, cmd: OfferingCreate) -> Offering:
    unknown = set(cmd.traits) - TRAITS
    if unknown:
        raise InvalidInput(f"unknown certification trait(s) {', '.join(sorted(unknown))}; known: "
                           f"{', '.join(sorted(TRAITS))}", code="civicloud.offering.invalid_trait", field="traits")
    offering = Offering(uow.new_id(), cmd.name, cmd.description,
                        Resources(cmd.vcpus, cmd.memory_mib, cmd.disk_gib, cmd.gpus), cmd.service_class,
                        frozenset(cmd.hds_activities), frozenset(cmd.traits))
    with uow:
        if uow.offerings.get_by_name(cmd.name) is not None:
            raise Conflict(f"an offering named {cmd.name!r} already exists", code="civicloud.offering.name_taken")
        uow.offerings.add(offering)
        uow.commit()
    return offering


def require_offering(uow: UnitOfWork, ref: str) -> Offering:
    offering = uow.offerings.by_ref(ref)
    if offering is None:
        raise NotFound.of("offering", ref)
    return offering


@operation("offerings.get")
def get_offering(uow: UnitOfWork, caller: Caller, ref: str) -> Offering:
    with uow:
        return require_offering(uow, ref)


@operation("offerings.list")
def list_offerings(uow: UnitOfWork, caller: Caller) -> list[Offering]:
    with uow:
        return uow.offerings.list()


@operation("hosts.list")
def list_hosts(uow: UnitOfWork, caller: Caller, site_ref: str | None = None) -> list[Host]:
    """The hosts the caller may see — on its member's sites only, for a member's staff; of ``site_ref`` if
    given (resolved as ``require_site`` does) — with the share each lends right now."""
    scope = scope_of(caller)
    hosts = _hosts_with_share(uow, site_ref, scope)
    if scope is None:
        return hosts
    with uow:
        own_sites = {s.id for s in uow.sites.list(scope)}
    return [h for h in hosts if h.site_id in own_sites]


def _hosts_with_share(uow: UnitOfWork, site_ref: str | None = None, member_id: str | None = None) -> list[Host]:
    """Hosts with the share each lends right now (its own offer, or its site's); ``member_id`` resolves
    ``site_ref`` as ``require_site`` does."""
    with uow:
        site_id = require_site(uow, site_ref, member_id).id if site_ref is not None else None
        hosts = uow.hosts.list(site_id)
        sites = {s.id: s for s in uow.sites.list()}
        by_site, by_host = effective_offers(uow, list(sites.values()), hosts)
    now = uow.clock()
    site_share = {sid: share_now(sites[sid], offer, now) for sid, offer in by_site.items()}
    return [replace(h, lend_share_percent=share_now(sites[h.site_id], by_host[h.id], now) if h.id in by_host
                    else site_share[h.site_id]) for h in hosts]


@operation("hosts.set_reserve")
def set_host_reserve(uow: UnitOfWork, caller: Caller, host_id: str, cmd: HostReserveSet) -> Host:
    """What the owner keeps for itself on a host, and how far civicloud may overcommit the rest."""
    ratios = Ratios(cmd.cpu_ratio, cmd.ram_ratio, cmd.disk_ratio)
    reserved = Resources(cmd.reserved_vcpus, cmd.reserved_memory_mib, cmd.reserved_disk_gib, cmd.reserved_gpus)
    with uow:
        host = uow.hosts.get(host_id)
        if host is None:
            raise NotFound.of("host", host_id)
        too_much = [name for name in ("vcpus", "memory_mib", "disk_gib", "gpus")
                    if getattr(reserved, name) > getattr(host.total, name)]
        if too_much:
            raise InvalidInput(f"the reserve exceeds what the host has ({', '.join(too_much)}); "
                               f"it has {host.total.vcpus} vCPU, {host.total.memory_mib} MiB, "
                               f"{host.total.disk_gib} GiB, {host.total.gpus} GPU",
                               code="civicloud.host.reserve_too_large", field=f"reserved_{too_much[0]}")
        uow.hosts.set_reserve(host.id, reserved, ratios)
        uow.signal(ROOM_CHANGED)
        uow.commit()
    return _host(uow, host_id)


@operation("hosts.set_power")
def set_host_power(uow: UnitOfWork, caller: Caller, host_id: str, cmd: HostPowerSet) -> Host:
    """The host's power model: watts at idle and at full CPU load (showback's energy figures)."""
    if cmd.max_watts < cmd.idle_watts:
        raise InvalidInput(f"a host draws at least as much at full load as at idle: {cmd.max_watts} W < "
                           f"{cmd.idle_watts} W", code="civicloud.host.invalid_power", field="max_watts")
    with uow:
        if not uow.hosts.set_power(host_id, cmd.idle_watts, cmd.max_watts):
            raise NotFound.of("host", host_id)
        uow.commit()
    return _host(uow, host_id)


@operation("hosts.get")
def get_host(uow: UnitOfWork, caller: Caller, host_id: str) -> Host:
    return _host(uow, host_id)


def _host(uow: UnitOfWork, host_id: str) -> Host:
    with uow:
        host = uow.hosts.get(host_id)
        if host is None:
            raise NotFound.of("host", host_id)
        site_id = host.site_id
    return next(h for h in _hosts_with_share(uow, site_id) if h.id == host_id)
