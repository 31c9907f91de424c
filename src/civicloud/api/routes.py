"""The REST API, /api/v1: members, sites, hosts, offerings, workloads."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from civicloud.api import views
from civicloud.api.deps import Caller, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.domain import CertificationKind, Offer, Window, Workload, WorkloadState
from civicloud.domain.identity import Principal
from civicloud.domain.offers import DAY_NAMES
from civicloud.services import (
    access,
    audit,
    catalogue,
    groups,
    members,
    sites,
    workloads,
)
from civicloud.services.placement import PlacementSettings
from civicloud.store import after_commit
from civicloud.wire import (
    AgreementCreate,
    AgreementOut,
    AuditEntryOut,
    AuditVerifyOut,
    CertificationAttest,
    CertificationIn,
    HostOut,
    HostPowerSet,
    HostReserveSet,
    JoinTokenOut,
    MemberCreate,
    MemberOut,
    OfferingCreate,
    OfferingOut,
    OfferOut,
    OfferSet,
    PlacementGroupCreate,
    PlacementGroupOut,
    SiteCreate,
    SiteOut,
    UsageSampleOut,
    WorkloadCreate,
    WorkloadOut,
    WorkloadResize,
)
from civicloud.wire.common import Instant, Ref

router = APIRouter(dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/members", status_code=status.HTTP_201_CREATED, tags=["members"])
def create_member(body: MemberCreate, uow: Uow) -> MemberOut:
    return views.member_out(members.create_member(uow, body))


@router.get("/members", tags=["members"])
def list_members(uow: Uow, principal: Caller, request: Request) -> list[MemberOut]:
    scope = access.member_scope(principal)
    return [views.member_out(m) for m in members.list_members(uow) if scope is None or m.id == scope]


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
def create_site(body: SiteCreate, uow: Uow, principal: Caller, request: Request) -> SiteOut:
    access.require_own_member(request.app.state.uow_factory(), principal, body.member_id)
    return views.site_out(sites.create_site(uow, body))


@router.get("/sites", tags=["sites"])
def list_sites(uow: Uow, principal: Caller, request: Request, member_id: Ref | None = None) -> list[SiteOut]:
    member_id = access.own_member(request.app.state.uow_factory(), principal, member_id)
    return [views.site_out(s) for s in sites.list_sites(uow, member_id)]


# A site in a path is its id or its name; names are unique within a member only, so they are resolved
# within the caller's member (member_scope; see services.sites.require_site).


@router.get("/sites/{site_id}", tags=["sites"])
def get_site(site_id: Ref, uow: Uow, principal: Caller) -> SiteOut:
    return views.site_out(sites.get_site(uow, site_id, access.member_scope(principal)))


@router.put("/sites/{site_id}/offer", tags=["offers"])
def set_site_offer(site_id: Ref, body: OfferSet, uow: Uow, request: Request, principal: Caller) -> OfferOut:
    """Set what the site lends: committed share, calendar windows, borrower categories, reclaim notice."""
    view = sites.set_offer(uow, offer_from(body), site_ref=site_id, member_id=access.member_scope(principal))
    after_commit(request.app.state.placer.wake)  # more room may fit a pending workload now
    return views.offer_out(view)


@router.get("/sites/{site_id}/offer", tags=["offers"])
def get_site_offer(site_id: Ref, uow: Uow, principal: Caller) -> OfferOut:
    return views.offer_out(sites.get_offer(uow, site_ref=site_id, member_id=access.member_scope(principal)))


@router.post("/sites/{site_id}/certifications", status_code=status.HTTP_201_CREATED, tags=["sites"])
def propose_certification(site_id: Ref, body: CertificationIn, uow: Uow, principal: Caller) -> SiteOut:
    """Propose a certification of the site (or its renewal, replacing the one of that kind). It counts for
    placement only once the federation's operator has attested it."""
    return views.site_out(sites.propose_certification(uow, site_id, body, access.member_scope(principal)))


@router.post("/sites/{site_id}/certifications/{kind}/attest", tags=["sites"])
def attest_certification(site_id: Ref, kind: CertificationKind, body: CertificationAttest, uow: Uow,
                         principal: Caller, request: Request) -> SiteOut:
    """The federation's operator attests the certification, having seen the certificate; from now until it
    expires, placement relies on it."""
    site = sites.attest_certification(uow, site_id, kind, body, principal.actor)
    after_commit(request.app.state.placer.wake)  # a pending e-health workload may fit there now
    return views.site_out(site)


@router.delete("/sites/{site_id}/certifications/{kind}/attest", tags=["sites"])
def revoke_attestation(site_id: Ref, kind: CertificationKind, uow: Uow) -> SiteOut:
    """Withdraw the operator's attestation (a certificate suspended or withdrawn): the certification is
    only proposed again, and new placements no longer rely on it."""
    return views.site_out(sites.revoke_attestation(uow, site_id, kind))


@router.put("/hosts/{host_id}/power", tags=["hosts"])
def set_host_power(host_id: Ref, body: HostPowerSet, uow: Uow) -> HostOut:
    """The host's power draw at idle and at full load: the energy model of showback."""
    return views.host_out(catalogue.set_host_power(uow, host_id, body))


@router.put("/hosts/{host_id}/reserve", tags=["hosts"])
def set_host_reserve(host_id: Ref, body: HostReserveSet, uow: Uow, request: Request) -> HostOut:
    """The owner's reserve on this host (never lent) and the allocation ratios of the rest."""
    host = catalogue.set_host_reserve(uow, host_id, body)
    after_commit(request.app.state.placer.wake)
    return views.host_out(host)


@router.put("/hosts/{host_id}/offer", tags=["offers"])
def set_host_offer(host_id: Ref, body: OfferSet, uow: Uow, request: Request) -> OfferOut:
    """Give one host an offer of its own, overriding its site's."""
    view = sites.set_offer(uow, offer_from(body), host_id=host_id)
    after_commit(request.app.state.placer.wake)
    return views.offer_out(view)


@router.get("/hosts/{host_id}/offer", tags=["offers"])
def get_host_offer(host_id: Ref, uow: Uow) -> OfferOut:
    """The host's own offer, or its site's when it has none (then ``host_id`` is null)."""
    return views.offer_out(sites.get_offer(uow, host_id=host_id))


@router.delete("/hosts/{host_id}/offer", tags=["offers"])
def remove_host_offer(host_id: Ref, uow: Uow, request: Request) -> OfferOut:
    """The host follows its site's offer again; answers that offer."""
    view = sites.remove_host_offer(uow, host_id)
    after_commit(request.app.state.placer.wake)
    return views.offer_out(view)


@router.post("/placement-groups", status_code=status.HTTP_201_CREATED, tags=["placement groups"])
def create_group(body: PlacementGroupCreate, uow: Uow, principal: Caller, request: Request) -> PlacementGroupOut:
    access.require_own_member(request.app.state.uow_factory(), principal, body.member_id)
    return views.group_out(groups.create_group(uow, body))


@router.get("/placement-groups", tags=["placement groups"])
def list_groups(uow: Uow, principal: Caller, request: Request,
                member_id: Ref | None = None) -> list[PlacementGroupOut]:
    member_id = access.own_member(request.app.state.uow_factory(), principal, member_id)
    return [views.group_out(g) for g in groups.list_groups(uow, member_id)]


@router.get("/placement-groups/{group_id}", tags=["placement groups"])
def get_group(group_id: Ref, uow: Uow) -> PlacementGroupOut:
    return views.group_out(groups.get_group(uow, group_id))


@router.delete("/placement-groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["placement groups"])
def delete_group(group_id: Ref, uow: Uow) -> None:
    groups.delete_group(uow, group_id)


def offer_from(body: OfferSet) -> Offer:
    windows = tuple(Window(frozenset(DAY_NAMES.index(d) for d in w.days), time.fromisoformat(w.start),
                           time.fromisoformat(w.end), w.share_percent) for w in body.windows)
    return Offer(body.committed_percent, body.default_percent, windows, frozenset(body.borrower_categories),
                 body.reclaim_notice_s)


@router.post("/sites/{site_id}/join-tokens", status_code=status.HTTP_201_CREATED, tags=["sites"])
def issue_join_token(site_id: Ref, uow: Uow, request: Request, principal: Caller) -> JoinTokenOut:
    ttl = timedelta(seconds=request.app.state.settings.join_token_ttl_s)
    issued = sites.issue_join_token(uow, site_id, ttl, access.member_scope(principal))
    return JoinTokenOut(site_id=issued.site_id, token=issued.token, expires_at=issued.expires_at)


@router.delete("/sites/{site_id}/credentials", tags=["sites"])
def revoke_site_agents(site_id: Ref, uow: Uow, principal: Caller) -> dict[str, int]:
    """Revoke every credential of the site's agents; they need a new join token to come back."""
    return {"revoked": sites.revoke_agents(uow, site_id, access.member_scope(principal))}


@router.get("/hosts", tags=["hosts"])
def list_hosts(uow: Uow, principal: Caller, request: Request, site_id: Ref | None = None) -> list[HostOut]:
    scope = access.member_scope(principal)
    hosts = catalogue.list_hosts(uow, site_id, scope)
    if scope is not None:
        own_sites = {s.id for s in sites.list_sites(request.app.state.uow_factory(), scope)}
        hosts = [h for h in hosts if h.site_id in own_sites]
    return [views.host_out(h) for h in hosts]


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
def create_workload(body: WorkloadCreate, uow: Uow, request: Request, principal: Caller) -> WorkloadOut:
    access.require_own_member(request.app.state.uow_factory(), principal, body.member_id)
    workload = workloads.create_workload(uow, body)
    after_commit(request.app.state.placer.wake)
    return _workload_out(uow, principal, workload)


@router.get("/workloads", tags=["workloads"])
def list_workloads(uow: Uow, principal: Caller, request: Request, member_id: Ref | None = None,
                   state: WorkloadState | None = None,
                   include_deleted: bool = Query(default=False),
                   limit: int = Query(default=1000, ge=1, le=1000, description="at most this many, oldest first"),
                   offset: int = Query(default=0, ge=0, le=10_000_000, description="skip this many first")
                   ) -> list[WorkloadOut]:
    member_id = access.own_member(request.app.state.uow_factory(), principal, member_id)
    found = workloads.list_workloads(uow, member=member_id, state=state, include_deleted=include_deleted,
                                     limit=limit, offset=offset)
    where = workloads.whereabouts(uow, (w.host_id for w in found))
    return [views.workload_out(w, where.get(w.host_id or ""), principal) for w in found]


def _workload_out(uow: Uow, principal: Principal, w: Workload) -> WorkloadOut:
    return views.workload_out(w, workloads.whereabouts(uow, [w.host_id]).get(w.host_id or ""), principal)


@router.get("/workloads/{workload_id}", tags=["workloads"])
def get_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.get_workload(uow, workload_id))


@router.delete("/workloads/{workload_id}", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def delete_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.delete_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/start", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def start_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.start_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/stop", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def stop_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.stop_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/reboot", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def reboot_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    """Power-cycle a running workload once (graceful shutdown, power-off after the agent's timeout, start)."""
    return _workload_out(uow, principal, workloads.reboot_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/resize", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def resize_workload(workload_id: Ref, body: WorkloadResize, uow: Uow, request: Request,
                    principal: Caller) -> WorkloadOut:
    """Another offering of the same class for a stopped workload, on its host; the agent resizes the domain."""
    settings = PlacementSettings.of(request.app.state.settings)
    return _workload_out(uow, principal, workloads.resize_workload(uow, workload_id, body.offering_id, settings))


@router.get("/workloads/{workload_id}/samples", tags=["workloads"])
def workload_samples(workload_id: Ref, uow: Uow,
                     limit: int = Query(default=100, ge=1, le=1000, description="at most this many, newest first")
                     ) -> list[UsageSampleOut]:
    """What the workload's host measured of it (CPU time, memory, disk and network counters)."""
    return [views.sample_out(s) for s in workloads.usage_samples(uow, workload_id, limit)]


@router.get("/audit", tags=["audit"])
def audit_log(uow: Uow,
              actor: Annotated[str | None, Query(pattern=r"^(operator-token|open-api|anonymous|site:[A-Za-z0-9-]{1,64}"
                                                         r"|user:[A-Za-z0-9_.@-]{1,100}|system:[a-z_]{1,40})$",
                                                 description="operator-token, open-api, anonymous, site:<id>, "
                                                             "user:<login>, system:placement, system:reclaim")] = None,
              action: Annotated[str | None, Query(pattern=r"^(((GET|POST|PUT|PATCH|DELETE) )?/[A-Za-z0-9_{}/.-]{0,190}"
                                                          r"|[a-z_]{1,40}(\.[a-z_]{1,40})?)$",
                                                  description="'/workloads', 'POST /api/v1/workloads', or what the "
                                                              "control plane did: 'reclaim.evict', 'reclaim', "
                                                              "'placement.place', 'allocation.release'")] = None,
              since: Annotated[Instant | None, Query()] = None, until: Annotated[Instant | None, Query()] = None,
              limit: int = Query(default=100, ge=1, le=1000)) -> list[AuditEntryOut]:
    """Every change the API answered, and every change the control plane made by itself (actor ``system:…``
    or the site whose agent reported it), newest first: who, on whose behalf, what, on what, with what
    outcome."""
    return [AuditEntryOut(**vars(e)) for e in audit.list_entries(uow, actor=actor, action=action, since=since,
                                                                 until=until, limit=limit)]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(uow: Uow) -> AuditVerifyOut:
    """Check the audit log's hash chain from its first entry: the first entry changed, removed or inserted."""
    count, broken = audit.verify(uow)
    return AuditVerifyOut(entries=count, intact=broken is None, first_break=broken.seq if broken else None,
                          reason=broken.reason if broken else None)
