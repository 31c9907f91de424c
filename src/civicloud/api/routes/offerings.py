"""The catalogue of offerings (/api/v1/offerings)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from civicloud.api import views
from civicloud.api.deps import Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.services import (
    catalogue,
)
from civicloud.wire import (
    OfferingCreate,
    OfferingOut,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/offerings", status_code=status.HTTP_201_CREATED, tags=["offerings"])
def create_offering(body: OfferingCreate, uow: Uow, grant: Granted) -> OfferingOut:
    return views.offering_out(catalogue.create_offering(uow, grant, body))


@router.get("/offerings", tags=["offerings"])
def list_offerings(uow: Uow, grant: Granted) -> list[OfferingOut]:
    return [views.offering_out(o) for o in catalogue.list_offerings(uow, grant)]


@router.get("/offerings/{offering_id}", tags=["offerings"])
def get_offering(offering_id: Ref, uow: Uow, grant: Granted) -> OfferingOut:
    return views.offering_out(catalogue.get_offering(uow, grant, offering_id))
