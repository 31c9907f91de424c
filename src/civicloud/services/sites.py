"""Sites, what they (and their hosts) lend, and the join tokens their agents use."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicloud.domain import (
    Certification,
    Offer,
    Site,
    check_certification,
    check_offer,
    department_of,
    is_public_holiday,
    validate_insee_code,
    validate_timezone,
)
from civicloud.errors import Conflict, InvalidInput, NotFound
from civicloud.services._common import new_id, utcnow
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.wire import SiteCreate

JOIN_TOKEN_PREFIX = "cvj_"
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


def create_site(uow: UnitOfWork, cmd: SiteCreate) -> Site:
    insee = validate_insee_code(cmd.insee_code)
    tz = validate_timezone(cmd.timezone)
    certs = tuple(Certification(c.kind, c.expires_on, frozenset(c.activities)) for c in cmd.certifications)
    for cert in certs:
        check_certification(cert)
    if (cmd.latitude is None) != (cmd.longitude is None):
        raise InvalidInput("give both latitude and longitude, or neither", code="civicloud.site.invalid_location",
                           field="longitude" if cmd.longitude is None else "latitude")
    with uow:
        member = require_member(uow, cmd.member_id)
        if uow.sites.get_by_name(cmd.name) is not None:
            raise Conflict(f"a site named {cmd.name!r} already exists; choose another name",
                           code="civicloud.site.name_taken")
        site = Site(new_id(), member.id, cmd.name, insee, tz, certs, utcnow(), cmd.latitude, cmd.longitude,
                    cmd.carbon_g_per_kwh, cmd.country)
        uow.sites.add(site, cert_ids=[new_id() for _ in certs])
        uow.commit()
    return site


def require_site(uow: UnitOfWork, ref: str) -> Site:
    site = uow.sites.get(ref) or uow.sites.get_by_name(ref)
    if site is None:
        raise NotFound.of("site", ref)
    return site


def get_site(uow: UnitOfWork, ref: str) -> Site:
    with uow:
        return require_site(uow, ref)


def list_sites(uow: UnitOfWork, member_id: str | None = None) -> list[Site]:
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


def set_offer(uow: UnitOfWork, offer: Offer, *, site_ref: str | None = None, host_id: str | None = None) -> OfferView:
    """Set what a site lends, or one of its hosts (overriding the site's offer for that host)."""
    check_offer(offer)
    now = utcnow()
    with uow:
        site = _require_site_of(uow, site_ref, host_id)
        uow.offers.set(new_id(), site.id, host_id, offer, now)
        uow.commit()
    return _view(site, host_id, (offer, now), now)


def get_offer(uow: UnitOfWork, *, site_ref: str | None = None, host_id: str | None = None) -> OfferView:
    with uow:
        site = _require_site_of(uow, site_ref, host_id)
        found = uow.offers.get(site.id, host_id)
        if found is None and host_id is not None:
            found = uow.offers.get(site.id)  # the host follows its site's offer
            host_id = None
        return _view(site, host_id, found, utcnow())


def remove_host_offer(uow: UnitOfWork, host_id: str) -> OfferView:
    """Drop a host's own offer: it follows its site's again."""
    with uow:
        site = _require_site_of(uow, None, host_id)
        uow.offers.remove_host_override(site.id, host_id)
        uow.commit()
        return _view(site, None, uow.offers.get(site.id), utcnow())


def _require_site_of(uow: UnitOfWork, site_ref: str | None, host_id: str | None) -> Site:
    if host_id is None:
        if site_ref is None:
            raise InvalidInput("name a site or a host", code="civicloud.offer.no_target")
        return require_site(uow, site_ref)
    host = uow.hosts.get(host_id)
    if host is None:
        raise NotFound.of("host", host_id)
    site = uow.sites.get(host.site_id)
    assert site is not None, "a host's site is a foreign key"
    return site


def revoke_agents(uow: UnitOfWork, site_ref: str) -> int:
    """Revoke the credentials of every agent of a site (a stolen or retired machine): they must join again."""
    with uow:
        site = require_site(uow, site_ref)
        revoked = uow.credentials.revoke_site_credentials(site.id, utcnow())
        uow.commit()
    return revoked


def issue_join_token(uow: UnitOfWork, site_ref: str, ttl: timedelta) -> IssuedToken:
    token = JOIN_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with uow:
        site = require_site(uow, site_ref)
        uow.credentials.add_join_token(new_id(), site.id, hash_secret(token), now, now + ttl)
        uow.commit()
    return IssuedToken(site.id, token, now + ttl)
