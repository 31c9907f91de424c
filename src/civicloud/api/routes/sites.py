"""Sites: their offers, certifications, join tokens and agents' credentials (/api/v1/sites)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, status

from civicloud.api import views
from civicloud.api.deps import AppSettings, Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.api.views import offer_from
from civicloud.domain import CertificationKind
from civicloud.services import sites
from civicloud.wire import (
    CertificationAttest,
    CertificationIn,
    JoinTokenOut,
    OfferOut,
    OfferSet,
    SiteCreate,
    SiteOut,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/sites", status_code=status.HTTP_201_CREATED, tags=["sites"])
def create_site(body: SiteCreate, uow: Uow, grant: Granted) -> SiteOut:
    return views.site_out(sites.create_site(uow, grant, body))


@router.get("/sites", tags=["sites"])
def list_sites(uow: Uow, grant: Granted, member_id: Ref | None = None) -> list[SiteOut]:
    return [views.site_out(s) for s in sites.list_sites(uow, grant, member_id)]


# A site in a path is its id or its name; names are unique within a member only, so they are resolved
# within the caller's member (member_scope; see services.sites.require_site).


@router.get("/sites/{site_id}", tags=["sites"])
def get_site(site_id: Ref, uow: Uow, grant: Granted) -> SiteOut:
    return views.site_out(sites.get_site(uow, grant, site_id))


@router.put("/sites/{site_id}/offer", tags=["offers"])
def set_site_offer(site_id: Ref, body: OfferSet, uow: Uow, grant: Granted) -> OfferOut:
    """Set what the site lends: committed share, calendar windows, borrower categories, reclaim notice."""
    return views.offer_out(sites.set_site_offer(uow, grant, site_id, offer_from(body)))


@router.get("/sites/{site_id}/offer", tags=["offers"])
def get_site_offer(site_id: Ref, uow: Uow, grant: Granted) -> OfferOut:
    return views.offer_out(sites.get_site_offer(uow, grant, site_id))


@router.post("/sites/{site_id}/certifications", status_code=status.HTTP_201_CREATED, tags=["sites"])
def propose_certification(site_id: Ref, body: CertificationIn, uow: Uow, grant: Granted) -> SiteOut:
    """Propose a certification of the site (or its renewal, replacing the one of that kind). It counts for
    placement only once the federation's operator has attested it."""
    return views.site_out(sites.propose_certification(uow, grant, site_id, body))


@router.post("/sites/{site_id}/certifications/{kind}/attest", tags=["sites"])
def attest_certification(site_id: Ref, kind: CertificationKind, body: CertificationAttest, uow: Uow,
                         grant: Granted) -> SiteOut:
    """The federation's operator attests the certification, having seen the certificate; from now until it
    expires, placement relies on it."""
    return views.site_out(sites.attest_certification(uow, grant, site_id, kind, body))


@router.delete("/sites/{site_id}/certifications/{kind}/attest", tags=["sites"])
def revoke_attestation(site_id: Ref, kind: CertificationKind, uow: Uow, grant: Granted) -> SiteOut:
    """Withdraw the operator's attestation (a certificate suspended or withdrawn): the certification is
    only proposed again, and new placements no longer rely on it."""
    return views.site_out(sites.revoke_attestation(uow, grant, site_id, kind))


@router.post("/sites/{site_id}/join-tokens", status_code=status.HTTP_201_CREATED, tags=["sites"])
def issue_join_token(site_id: Ref, uow: Uow, settings: AppSettings, grant: Granted) -> JoinTokenOut:
    issued = sites.issue_join_token(uow, grant, site_id, timedelta(seconds=settings.join_token_ttl_s))
    return JoinTokenOut(site_id=issued.site_id, token=issued.token, expires_at=issued.expires_at)


@router.delete("/sites/{site_id}/credentials", tags=["sites"])
def revoke_site_agents(site_id: Ref, uow: Uow, grant: Granted) -> dict[str, int]:
    """Revoke every credential of the site's agents; they need a new join token to come back."""
    return {"revoked": sites.revoke_agents(uow, grant, site_id)}
