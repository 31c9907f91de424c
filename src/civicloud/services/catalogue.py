"""The service catalogue (offerings) and the hosts agents have reported."""

from __future__ import annotations

from civicloud.domain import Host, Offering, Resources
from civicloud.errors import Conflict, NotFound
from civicloud.services._common import new_id
from civicloud.services.sites import require_site
from civicloud.store import UnitOfWork
from civicloud.wire import OfferingCreate


def create_offering(uow: UnitOfWork, cmd: OfferingCreate) -> Offering:
    offering = Offering(new_id(), cmd.name, cmd.description, Resources(cmd.vcpus, cmd.memory_mib, cmd.disk_gib),
                        cmd.service_class)
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
    with uow:
        site_id = require_site(uow, site_ref).site.id if site_ref is not None else None
        return uow.hosts.list(site_id)


def get_host(uow: UnitOfWork, host_id: str) -> Host:
    with uow:
        host = uow.hosts.get(host_id)
        if host is None:
            raise NotFound.of("host", host_id)
        return host
