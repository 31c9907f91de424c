"""Placement groups of a member's workloads (/api/v1/placement-groups)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from civicloud.api import views
from civicloud.api.deps import Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.services import groups
from civicloud.wire import (
    PlacementGroupCreate,
    PlacementGroupOut,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/placement-groups", status_code=status.HTTP_201_CREATED, tags=["placement groups"])
def create_group(body: PlacementGroupCreate, uow: Uow, grant: Granted) -> PlacementGroupOut:
    return views.group_out(groups.create_group(uow, grant, body))


@router.get("/placement-groups", tags=["placement groups"])
def list_groups(uow: Uow, grant: Granted, member_id: Ref | None = None) -> list[PlacementGroupOut]:
    return [views.group_out(g) for g in groups.list_groups(uow, grant, member_id)]


@router.get("/placement-groups/{group_id}", tags=["placement groups"])
def get_group(group_id: Ref, uow: Uow, grant: Granted) -> PlacementGroupOut:
    return views.group_out(groups.get_group(uow, grant, group_id))


@router.delete("/placement-groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["placement groups"])
def delete_group(group_id: Ref, uow: Uow, grant: Granted) -> None:
    groups.delete_group(uow, grant, group_id)
