"""Hosts the agents reported: reserve, power model, their own offers (/api/v1/hosts)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from civicloud.api import views
from civicloud.api.deps import Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.api.views import offer_from
from civicloud.services import catalogue, sites
from civicloud.wire import (
    HostOut,
    HostPowerSet,
    HostReserveSet,
    OfferOut,
    OfferSet,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.put("/hosts/{host_id}/power", tags=["hosts"])
def set_host_power(host_id: Ref, body: HostPowerSet, uow: Uow, grant: Granted) -> HostOut:
    """The host's power draw at idle and at full load: the energy model of showback."""
    return views.host_out(catalogue.set_host_power(uow, grant, host_id, body))


@router.put("/hosts/{host_id}/reserve", tags=["hosts"])
def set_host_reserve(host_id: Ref, body: HostReserveSet, uow: Uow, grant: Granted) -> HostOut:
    """The owner's reserve on this host (never lent) and the allocation ratios of the rest."""
    return views.host_out(catalogue.set_host_reserve(uow, grant, host_id, body))


@router.put("/hosts/{host_id}/offer", tags=["offers"])
def set_host_offer(host_id: Ref, body: OfferSet, uow: Uow, grant: Granted) -> OfferOut:
    """Give one host an offer of its own, overriding its site's."""
    return views.offer_out(sites.set_host_offer(uow, grant, host_id, offer_from(body)))


@router.get("/hosts/{host_id}/offer", tags=["offers"])
def get_host_offer(host_id: Ref, uow: Uow, grant: Granted) -> OfferOut:
    """The host's own offer, or its site's when it has none (then ``host_id`` is null)."""
    return views.offer_out(sites.get_host_offer(uow, grant, host_id))


@router.delete("/hosts/{host_id}/offer", tags=["offers"])
def remove_host_offer(host_id: Ref, uow: Uow, grant: Granted) -> OfferOut:
    """The host follows its site's offer again; answers that offer."""
    return views.offer_out(sites.remove_host_offer(uow, grant, host_id))


@router.get("/hosts", tags=["hosts"])
def list_hosts(uow: Uow, grant: Granted, site_id: Ref | None = None) -> list[HostOut]:
    return [views.host_out(h) for h in catalogue.list_hosts(uow, grant, site_id)]


@router.get("/hosts/{host_id}", tags=["hosts"])
def get_host(host_id: Ref, uow: Uow, grant: Granted) -> HostOut:
    return views.host_out(catalogue.get_host(uow, grant, host_id))
