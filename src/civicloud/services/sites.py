"""Sites, their offer and the join tokens their agents use."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from civicloud.domain import (
    Certification,
    Site,
    check_certification,
    check_share,
    validate_insee_code,
    validate_timezone,
)
from civicloud.errors import Conflict, NotFound
from civicloud.services._common import new_id, utcnow
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.wire import SiteCreate

JOIN_TOKEN_PREFIX = "cvj_"


@dataclass(frozen=True)
class SiteView:
    site: Site
    offer_share_percent: float


@dataclass(frozen=True)
class IssuedToken:
    site_id: str
    token: str
    expires_at: datetime


def hash_secret(secret: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough to store them (no brute force possible).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_site(uow: UnitOfWork, cmd: SiteCreate) -> SiteView:
    insee = validate_insee_code(cmd.insee_code)
    tz = validate_timezone(cmd.timezone)
    certs = tuple(Certification(c.kind, c.expires_on, frozenset(c.activities)) for c in cmd.certifications)
    for cert in certs:
        check_certification(cert)
    with uow:
        member = require_member(uow, cmd.member_id)
        if any(s.name == cmd.name for s, _ in uow.sites.list()):
            raise Conflict(f"a site named {cmd.name!r} already exists; choose another name",
                           code="civicloud.site.name_taken")
        site = Site(new_id(), member.id, cmd.name, insee, tz, certs, utcnow())
        uow.sites.add(site, cert_ids=[new_id() for _ in certs])
        uow.commit()
    return SiteView(site, 0.0)


def require_site(uow: UnitOfWork, ref: str) -> SiteView:
    found = uow.sites.get(ref)
    if found is None:
        by_name = [(s, share) for s, share in uow.sites.list() if s.name == ref]
        if not by_name:
            raise NotFound.of("site", ref)
        return SiteView(*by_name[0])
    return SiteView(found[0], found[1])


def get_site(uow: UnitOfWork, ref: str) -> SiteView:
    with uow:
        return require_site(uow, ref)


def list_sites(uow: UnitOfWork, member_id: str | None = None) -> list[SiteView]:
    with uow:
        if member_id is not None:
            member_id = require_member(uow, member_id).id
        return [SiteView(s, share) for s, share in uow.sites.list(member_id)]


def set_offer(uow: UnitOfWork, site_ref: str, share_percent: float) -> tuple[SiteView, datetime]:
    check_share(share_percent)
    now = utcnow()
    with uow:
        view = require_site(uow, site_ref)
        uow.sites.set_offer(view.site.id, share_percent, now)
        uow.commit()
    return SiteView(view.site, share_percent), now


def issue_join_token(uow: UnitOfWork, site_ref: str, ttl: timedelta) -> IssuedToken:
    token = JOIN_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    with uow:
        site = require_site(uow, site_ref).site
        uow.credentials.add_join_token(new_id(), site.id, hash_secret(token), now, now + ttl)
        uow.commit()
    return IssuedToken(site.id, token, now + ttl)
