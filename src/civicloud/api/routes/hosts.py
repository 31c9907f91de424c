"""Hosts the agents reported: reserve, power model, their own offers (/api/v1/hosts)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from civicloud.api import views
from civicloud.api.deps import Caller, Uow, Uows, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.views import offer_from
from civicloud.services import (
    access,
    catalogue,
    sites,
)
from civicloud.wire import (
    HostOut,
    HostPowerSet,
    HostReserveSet,
    OfferOut,
    OfferSet,
)
from civicloud.wire.common import Ref

router = APIRouter(dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.put("/hosts/{host_id}/power", tags=["hosts"])
def set_host_power(host_id: Ref, body: HostPowerSet, uow: Uow) -> HostOut:
    """The host's power draw at idle and at full load: the energy model of showback."""
    return views.host_out(catalogue.set_host_power(uow, host_id, body))


@router.put("/hosts/{host_id}/reserve", tags=["hosts"])
def set_host_reserve(host_id: Ref, body: HostReserveSet, uow: Uow) -> HostOut:
    """The owner's reserve on this host (never lent) and the allocation ratios of the rest."""
    host = catalogue.set_host_reserve(uow, host_id, body)
    return views.host_out(host)


@router.put("/hosts/{host_id}/offer", tags=["offers"])
def set_host_offer(host_id: Ref, body: OfferSet, uow: Uow) -> OfferOut:
    """Give one host an offer of its own, overriding its site's."""
    view = sites.set_offer(uow, offer_from(body), host_id=host_id)
    return views.offer_out(view)


@router.get("/hosts/{host_id}/offer", tags=["offers"])
def get_host_offer(host_id: Ref, uow: Uow) -> OfferOut:
    """The host's own offer, or its site's when it has none (then ``host_id`` is null)."""
    return views.offer_out(sites.get_offer(uow, host_id=host_id))


@router.delete("/hosts/{host_id}/offer", tags=["offers"])
def remove_host_offer(host_id: Ref, uow: Uow) -> OfferOut:
    """The host follows its site's offer again; answers that offer."""
    view = sites.remove_host_offer(uow, host_id)
    return views.offer_out(view)


@router.get("/hosts", tags=["hosts"])
def list_hosts(uow: Uow, principal: Caller, uows: Uows, site_id: Ref | None = None) -> list[HostOut]:
    scope = access.member_scope(principal)
    hosts = catalogue.list_hosts(uow, site_id, scope)
    if scope is not None:
        own_sites = {s.id for s in sites.list_sites(uows(), scope)}
        hosts = [h for h in hosts if h.site_id in own_sites]
    return [views.host_out(h) for h in hosts]


@router.get("/hosts/{host_id}", tags=["hosts"])
def get_host(host_id: Ref, uow: Uow) -> HostOut:
    return views.host_out(catalogue.get_host(uow, host_id))
