"""Sites, what they (and their hosts) lend, and the join tokens their agents use."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from civicloud.domain import (
    Certification,
    CertificationKind,
    Offer,
    Site,
    check_attestation,
    check_certification,
    check_offer,
    department_of,
    is_public_holiday,
    validate_insee_code,
    validate_timezone,
)
from civicloud.domain.events import ROOM_CHANGED
from civicloud.domain.secrets import SecretKind, new_secret
from civicloud.errors import Conflict, InvalidInput, NotFound
from civicloud.services.access import Caller, operation, own_member, principal_of, require_own_member, scope_of
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.wire import CertificationAttest, CertificationIn, SiteCreate

JOIN_TOKEN_PREFIX = SecretKind.JOIN_TOKEN.value
NO_OFFER = Offer()  # a site that has not said what it lends lends nothing


@dataclass(frozen=True)
class IssuedToken:
    site_id: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class OfferView:
    """An offer as its lender sees it: the rules, and what they mean now."""

    site: Site
    host_id: str | None
    offer: Offer
    updated_at: datetime | None
    lent_now_percent: float
    next_change_at: datetime | None


def hash_secret(secret: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough to store them (no brute force possible).
    return hashlib.sha256(secret.encode()).hexdigest()


@operation("sites.create")
def create_site(uow: UnitOfWork, caller: Caller, cmd: SiteCreate) -> Site:
    require_own_member(uow, caller, cmd.member_id)
    insee = validate_insee_code(cmd.insee_code)
    tz = validate_timezone(cmd.timezone)
    # Proposed only: they count for placement once the federation's operator attests them.
    certs = tuple(Certification(c.kind, c.expires_on, frozenset(c.activities)) for c in cmd.certifications)
    for cert in certs:
        check_certification(cert)
    if len({c.kind for c in certs}) < len(certs):
        raise InvalidInput("give each kind of certification once", code="civicloud.site.duplicate_certification",
                           field="certifications")
    if (cmd.latitude is None) != (cmd.longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither", code="civicloud.site.invalid_location",
                           field="longitude" if cmd.longitude is None else "latitude")
    with uow:
        member = require_member(uow, cmd.member_id)
        if uow.sites.named(cmd.name, member.id):  # only the member's own: others' names are not told
            raise Conflict(f"{member.name} already has a site named {cmd.name!r}; choose another name",
                           code="civicloud.site.name_taken")
        site = Site(uow.new_id(), member.id, cmd.name, insee, tz, certs, uow.clock(), cmd.latitude, cmd.longitude,
                    cmd.carbon_g_per_kwh, cmd.country)
        uow.sites.add(site, cert_ids=[uow.new_id() for _ in certs])
        uow.commit()
    return site


def require_site(uow: UnitOfWork, ref: str, member_id: str | None = None) -> Site:
    """The site ``ref`` names: its id, or its name.

    Site names are unique among one member's sites only, so a name is resolved within a member:
    ``member_id`` is the caller's member for a member's staff (``access.member_scope``), and then
    another member's site — by id or by name — answers 404 exactly as an unknown one. The
    federation's staff (``member_id`` None) may name any site, but a name two members use is
    ambiguous: 409 ``civicloud.site.ambiguous_name``, use the site's id.
    """
    site = uow.sites.get(ref)
    if site is None:
        named = uow.sites.named(ref, member_id)
        if len(named) > 1:
            raise Conflict(f"{len(named)} members have a site named {ref!r}; name it by its id "
                           "(civicloud site list shows the ids)", code="civicloud.site.ambiguous_name")
        site = named[0] if named else None
    if site is None or (member_id is not None and site.member_id != member_id):
        raise NotFound.of("site", ref)
    return site


@operation("sites.get")
def get_site(uow: UnitOfWork, caller: Caller, site_id: str) -> Site:
    with uow:
        return require_site(uow, site_id, scope_of(caller))


@operation("sites.list")
def list_sites(uow: UnitOfWork, caller: Caller, member_id: str | None = None) -> list[Site]:
    """The sites the caller may see (its member's only, for a member's staff), of ``member_id`` if given."""
    member_id = own_member(uow, caller, member_id)
    with uow:
        if member_id is not None:
            member_id = require_member(uow, member_id).id
        return uow.sites.list(member_id)


def holidays_of(site: Site) -> Callable[[date], bool]:
    """The site's public holidays (its département's: Alsace-Moselle and overseas ones differ)."""
    department = department_of(site.insee_code)
    return lambda day: is_public_holiday(day, department)


def share_now(site: Site, offer: Offer, now: datetime) -> float:
    """The share the offer lends at ``now`` in the site's time zone."""
    return offer.share_at(now, site.timezone, holidays_of(site))


def lent_now(site: Site, offer: Offer, now: datetime) -> tuple[float, datetime | None]:
    """The share the offer lends at ``now``, and when that next changes."""
    holidays = holidays_of(site)
    return offer.share_at(now, site.timezone, holidays), offer.next_change(now, site.timezone, holidays)


def _view(site: Site, host_id: str | None, found: tuple[Offer, datetime] | None, now: datetime) -> OfferView:
    offer, updated = found if found else (NO_OFFER, None)
    share, change = lent_now(site, offer, now)
    return OfferView(site, host_id, offer, updated, share, change)


@operation("sites.set_offer")
def set_site_offer(uow: UnitOfWork, caller: Caller, site_id: str, offer: Offer) -> OfferView:
    """Set what a site lends."""
    return _set_offer(uow, offer, site_ref=site_id, member_id=scope_of(caller))


@operation("hosts.set_offer")
def set_host_offer(uow: UnitOfWork, caller: Caller, host_id: str, offer: Offer) -> OfferView:
    """Set what one of a site's hosts lends, overriding the site's offer for that host."""
    return _set_offer(uow, offer, host_id=host_id)


@operation("sites.get_offer")
def get_site_offer(uow: UnitOfWork, caller: Caller, site_id: str) -> OfferView:
    return _get_offer(uow, site_ref=site_id, member_id=scope_of(caller))


@operation("hosts.get_offer")
def get_host_offer(uow: UnitOfWork, caller: Caller, host_id: str) -> OfferView:
    """The host's own offer, or its site's, which it follows when it has none."""
    return _get_offer(uow, host_id=host_id)


def _set_offer(uow: UnitOfWork, offer: Offer, *, site_ref: str | None = None, host_id: str | None = None,
               member_id: str | None = None) -> OfferView:
    check_offer(offer)
    now = uow.clock()
    with uow:
        site = _require_site_of(uow, site_ref, host_id, member_id)
        uow.offers.set(uow.new_id(), site.id, host_id, offer, now)
        uow.signal(ROOM_CHANGED)  # more may be lent now (less: the next reclaim pass sees it)
        uow.commit()
    return _view(site, host_id, (offer, now), now)


def _get_offer(uow: UnitOfWork, *, site_ref: str | None = None, host_id: str | None = None,
               member_id: str | None = None) -> OfferView:
    with uow:
        site = _require_site_of(uow, site_ref, host_id, member_id)
        found = uow.offers.get(site.id, host_id)
        if found is None and host_id is not None:
            found = uow.offers.get(site.id)  # the host follows its site's offer
            host_id = None
        return _view(site, host_id, found, uow.clock())


@operation("hosts.remove_offer")
def remove_host_offer(uow: UnitOfWork, caller: Caller, host_id: str) -> OfferView:
    """Drop a host's own offer: it follows its site's again."""
    with uow:
        site = _require_site_of(uow, None, host_id)
        uow.offers.remove_host_override(site.id, host_id)
        uow.signal(ROOM_CHANGED)
        uow.commit()
        return _view(site, None, uow.offers.get(site.id), uow.clock())


def _require_site_of(uow: UnitOfWork, site_ref: str | None, host_id: str | None,
                     member_id: str | None = None) -> Site:
    if host_id is None:
        if site_ref is None:
            raise InvalidInput("name a site or a host", code="civicloud.offer.no_target")
        return require_site(uow, site_ref, member_id)
    host = uow.hosts.get(host_id)
    if host is None:
        raise NotFound.of("host", host_id)
    site = uow.sites.get(host.site_id)
    assert site is not None, "a host's site is a foreign key"
    return site


@operation("sites.revoke_agents")
def revoke_agents(uow: UnitOfWork, caller: Caller, site_id: str) -> int:
    """Revoke the credentials of every agent of a site (a stolen or retired machine): they must join again."""
    with uow:
        site = require_site(uow, site_id, scope_of(caller))
        revoked = uow.credentials.revoke_site_credentials(site.id, uow.clock())
        uow.commit()
    return revoked


@operation("sites.issue_join_token")
def issue_join_token(uow: UnitOfWork, caller: Caller, site_id: str, ttl: timedelta) -> IssuedToken:
    token = new_secret(SecretKind.JOIN_TOKEN)
    now = uow.clock()
    with uow:
        site = require_site(uow, site_id, scope_of(caller))
        uow.credentials.add_join_token(uow.new_id(), site.id, hash_secret(token), now, now + ttl)
        uow.commit()
    return IssuedToken(site.id, token, now + ttl)


# -- certifications: proposed by the site's member, attested by the federation's operator ---------------


@operation("certifications.propose")
def propose_certification(uow: UnitOfWork, caller: Caller, site_id: str, cmd: CertificationIn) -> Site:
    """Propose a certification of the site (a new one, or a renewal): it replaces the site's certification
    of that kind — attested or not — and counts for nothing until the operator attests it."""
    cert = Certification(cmd.kind, cmd.expires_on, frozenset(cmd.activities))
    check_certification(cert)
    with uow:
        site = require_site(uow, site_id, scope_of(caller))
        uow.sites.set_certification(uow.new_id(), site.id, cert)
        site = require_site(uow, site.id)
        uow.commit()
    return site


@operation("certifications.attest")
def attest_certification(uow: UnitOfWork, caller: Caller, site_ref: str, kind: CertificationKind,
                         cmd: CertificationAttest) -> Site:
    """The federation's operator has seen the certificate: its number, issuer and validity (which replace
    what the site proposed). From then on the certification counts for placement, until it expires."""
    now = uow.clock()
    check_attestation(cmd.certificate_number, cmd.issuer, cmd.valid_from, cmd.expires_on, now.date())
    with uow:
        site = require_site(uow, site_ref)
        cert = _require_certification(site, kind)
        uow.sites.set_certification(uow.new_id(), site.id, replace(
            cert, valid_from=cmd.valid_from, expires_on=cmd.expires_on, attested_at=now,
            attested_by=principal_of(caller).actor, certificate_number=cmd.certificate_number, issuer=cmd.issuer))
        site = require_site(uow, site.id)
        uow.signal(ROOM_CHANGED)  # a pending e-health workload may fit there now
        uow.commit()
    return site


@operation("certifications.revoke")
def revoke_attestation(uow: UnitOfWork, caller: Caller, site_ref: str, kind: CertificationKind) -> Site:
    """Withdraw the operator's attestation (a certificate suspended or withdrawn by its issuer): the
    certification is only proposed again. Revoking one that is not attested changes nothing."""
    with uow:
        site = require_site(uow, site_ref)
        cert = _require_certification(site, kind)
        if cert.attested:
            uow.sites.set_certification(uow.new_id(), site.id, replace(
                cert, attested_at=None, attested_by=None, certificate_number=None, issuer=None))
            site = require_site(uow, site.id)
            uow.commit()
    return site


def _require_certification(site: Site, kind: CertificationKind) -> Certification:
    cert = next((c for c in site.certifications if c.kind is kind), None)
    if cert is None:
        raise NotFound(f"site {site.name!r} has no {kind.value} certification; the site's member proposes it "
                       "first (civicloud site certification propose)", code="civicloud.certification.not_found")
    return cert
