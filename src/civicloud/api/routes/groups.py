"""Placement groups of a member's workloads (/api/v1/placement-groups)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from civicloud.api import views
from civicloud.api.deps import Caller, Uow, Uows, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.services import (
    access,
    groups,
)
from civicloud.wire import (
    PlacementGroupCreate,
    PlacementGroupOut,
)
from civicloud.wire.common import Ref

router = APIRouter(dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/placement-groups", status_code=status.HTTP_201_CREATED, tags=["placement groups"])
def create_group(body: PlacementGroupCreate, uow: Uow, principal: Caller, uows: Uows) -> PlacementGroupOut:
    access.require_own_member(uows(), principal, body.member_id)
    return views.group_out(groups.create_group(uow, body))


@router.get("/placement-groups", tags=["placement groups"])
def list_groups(uow: Uow, principal: Caller, uows: Uows,
                member_id: Ref | None = None) -> list[PlacementGroupOut]:
    member_id = access.own_member(uows(), principal, member_id)
    return [views.group_out(g) for g in groups.list_groups(uow, member_id)]


@router.get("/placement-groups/{group_id}", tags=["placement groups"])
def get_group(group_id: Ref, uow: Uow) -> PlacementGroupOut:
    return views.group_out(groups.get_group(uow, group_id))


@router.delete("/placement-groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["placement groups"])
def delete_group(group_id: Ref, uow: Uow) -> None:
    groups.delete_group(uow, group_id)
