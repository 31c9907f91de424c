"""Members of the federation and their agreements (/api/v1/members)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from civicloud.api import views
from civicloud.api.deps import Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.services import members
from civicloud.wire import (
    AgreementCreate,
    AgreementOut,
    MemberCreate,
    MemberOut,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/members", status_code=status.HTTP_201_CREATED, tags=["members"])
def create_member(body: MemberCreate, uow: Uow, grant: Granted) -> MemberOut:
    return views.member_out(members.create_member(uow, grant, body))


@router.get("/members", tags=["members"])
def list_members(uow: Uow, grant: Granted) -> list[MemberOut]:
    return [views.member_out(m) for m in members.list_members(uow, grant)]


@router.get("/members/{member_id}", tags=["members"])
def get_member(member_id: Ref, uow: Uow, grant: Granted) -> MemberOut:
    return views.member_out(members.get_member(uow, grant, member_id))


@router.post("/members/{member_id}/agreements", status_code=status.HTTP_201_CREATED, tags=["members"])
def add_agreement(member_id: Ref, body: AgreementCreate, uow: Uow, grant: Granted) -> AgreementOut:
    return views.agreement_out(members.add_agreement(uow, grant, member_id, body))


@router.get("/members/{member_id}/agreements", tags=["members"])
def list_agreements(member_id: Ref, uow: Uow, grant: Granted) -> list[AgreementOut]:
    return [views.agreement_out(a) for a in members.list_agreements(uow, grant, member_id)]
