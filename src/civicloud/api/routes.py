"""The REST API, /api/v1: members, sites, hosts, offerings, workloads."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request, status

from civicloud.api import views
from civicloud.api.deps import Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.domain import WorkloadState
from civicloud.services import catalogue, members, sites, workloads
from civicloud.wire import (
    AgreementCreate,
    AgreementOut,
    HostOut,
    JoinTokenOut,
    MemberCreate,
    MemberOut,
    OfferingCreate,
    OfferingOut,
    OfferOut,
    OfferSet,
    SiteCreate,
    SiteOut,
    WorkloadCreate,
    WorkloadOut,
)
from civicloud.wire.common import Id, Ref

router = APIRouter(dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/members", status_code=status.HTTP_201_CREATED, tags=["members"])
def create_member(body: MemberCreate, uow: Uow) -> MemberOut:
    return views.member_out(members.create_member(uow, body))


@router.get("/members", tags=["members"])
def list_members(uow: Uow) -> list[MemberOut]:
    return [views.member_out(m) for m in members.list_members(uow)]


@router.get("/members/{member_id}", tags=["members"])
def get_member(member_id: Ref, uow: Uow) -> MemberOut:
    return views.member_out(members.get_member(uow, member_id))


@router.post("/members/{member_id}/agreements", status_code=status.HTTP_201_CREATED, tags=["members"])
def add_agreement(member_id: Ref, body: AgreementCreate, uow: Uow) -> AgreementOut:
    return views.agreement_out(members.add_agreement(uow, member_id, body))


@router.get("/members/{member_id}/agreements", tags=["members"])
def list_agreements(member_id: Ref, uow: Uow) -> list[AgreementOut]:
    return [views.agreement_out(a) for a in members.list_agreements(uow, member_id)]


@router.post("/sites", status_code=status.HTTP_201_CREATED, tags=["sites"])
def create_site(body: SiteCreate, uow: Uow) -> SiteOut:
    return views.site_out(sites.create_site(uow, body))


@router.get("/sites", tags=["sites"])
def list_sites(uow: Uow, member_id: Id | None = None) -> list[SiteOut]:
    return [views.site_out(s) for s in sites.list_sites(uow, member_id)]


@router.get("/sites/{site_id}", tags=["sites"])
def get_site(site_id: Ref, uow: Uow) -> SiteOut:
    return views.site_out(sites.get_site(uow, site_id))


@router.put("/sites/{site_id}/offer", tags=["sites"])
def set_offer(site_id: Ref, body: OfferSet, uow: Uow, request: Request) -> OfferOut:
    view, updated_at = sites.set_offer(uow, site_id, body.share_percent)
    request.app.state.placer.wake()  # more room may fit a pending workload now
    return OfferOut(site_id=view.site.id, share_percent=view.offer_share_percent, updated_at=updated_at)


@router.post("/sites/{site_id}/join-tokens", status_code=status.HTTP_201_CREATED, tags=["sites"])
def issue_join_token(site_id: Ref, uow: Uow, request: Request) -> JoinTokenOut:
    ttl = timedelta(seconds=request.app.state.settings.join_token_ttl_s)
    issued = sites.issue_join_token(uow, site_id, ttl)
    return JoinTokenOut(site_id=issued.site_id, token=issued.token, expires_at=issued.expires_at)


@router.get("/hosts", tags=["hosts"])
def list_hosts(uow: Uow, site_id: Id | None = None) -> list[HostOut]:
    return [views.host_out(h) for h in catalogue.list_hosts(uow, site_id)]


@router.get("/hosts/{host_id}", tags=["hosts"])
def get_host(host_id: Ref, uow: Uow) -> HostOut:
    return views.host_out(catalogue.get_host(uow, host_id))


@router.post("/offerings", status_code=status.HTTP_201_CREATED, tags=["offerings"])
def create_offering(body: OfferingCreate, uow: Uow) -> OfferingOut:
    return views.offering_out(catalogue.create_offering(uow, body))


@router.get("/offerings", tags=["offerings"])
def list_offerings(uow: Uow) -> list[OfferingOut]:
    return [views.offering_out(o) for o in catalogue.list_offerings(uow)]


@router.get("/offerings/{offering_id}", tags=["offerings"])
def get_offering(offering_id: Ref, uow: Uow) -> OfferingOut:
    return views.offering_out(catalogue.get_offering(uow, offering_id))


@router.post("/workloads", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def create_workload(body: WorkloadCreate, uow: Uow, request: Request) -> WorkloadOut:
    workload = workloads.create_workload(uow, body)
    request.app.state.placer.wake()
    return views.workload_out(workload)


@router.get("/workloads", tags=["workloads"])
def list_workloads(uow: Uow, member_id: Id | None = None, state: WorkloadState | None = None,
                   include_deleted: bool = Query(default=False)) -> list[WorkloadOut]:
    return [views.workload_out(w) for w in workloads.list_workloads(uow, member=member_id, state=state,
                                                                      include_deleted=include_deleted)]


@router.get("/workloads/{workload_id}", tags=["workloads"])
def get_workload(workload_id: Ref, uow: Uow) -> WorkloadOut:
    return views.workload_out(workloads.get_workload(uow, workload_id))


@router.delete("/workloads/{workload_id}", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def delete_workload(workload_id: Ref, uow: Uow) -> WorkloadOut:
    return views.workload_out(workloads.delete_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/start", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def start_workload(workload_id: Ref, uow: Uow) -> WorkloadOut:
    return views.workload_out(workloads.start_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/stop", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def stop_workload(workload_id: Ref, uow: Uow) -> WorkloadOut:
    return views.workload_out(workloads.stop_workload(uow, workload_id))
