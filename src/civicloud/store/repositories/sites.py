"""Sites, their certifications, and the offers of sites and hosts."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import Row, and_, delete, insert, select, update

from civicloud.domain import (
    Certification,
    CertificationKind,
    MemberCategory,
    Offer,
    Site,
    Window,
)
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo, bump_revision, join_ints, split_ints
from civicloud.store.repositories.hosts import update_hosts


class SiteRepository(Repo):
    def add(self, site: Site, *, cert_ids: Sequence[str]) -> None:
        self._conn.execute(insert(t.sites).values(
            id=site.id, member_id=site.member_id, name=site.name, insee_code=site.insee_code,
            timezone=site.timezone, created_at=site.created_at, latitude=site.latitude, longitude=site.longitude,
            carbon_g_per_kwh=site.carbon_g_per_kwh, country=site.country))
        for cert_id, cert in zip(cert_ids, site.certifications, strict=True):
            self._add_cert(cert_id, site.id, cert)
        bump_revision(self._conn)

    def set_certification(self, cert_id: str, site_id: str, cert: Certification) -> None:
        """Put ``cert`` in place of the site's certification of its kind, if it has one."""
        self._conn.execute(delete(t.certifications).where(and_(t.certifications.c.site_id == site_id,
                                                               t.certifications.c.kind == cert.kind.value)))
        self._add_cert(cert_id, site_id, cert)
        bump_revision(self._conn)

    def _add_cert(self, cert_id: str, site_id: str, cert: Certification) -> None:
        self._conn.execute(insert(t.certifications).values(
            id=cert_id, site_id=site_id, kind=cert.kind.value, activities=join_ints(cert.activities),
            expires_on=cert.expires_on, valid_from=cert.valid_from, attested_at=cert.attested_at,
            attested_by=cert.attested_by, certificate_number=cert.certificate_number, issuer=cert.issuer))
        bump_revision(self._conn)

    def get(self, site_id: str) -> Site | None:
        row = self._one(select(t.sites).where(t.sites.c.id == site_id))
        return self._site(row, self._certs([row.id]).get(row.id, ())) if row else None

    def named(self, name: str, member_id: str | None = None) -> list[Site]:
        """The sites called ``name`` (names are unique within a member only), of one member if given."""
        stmt = select(t.sites).where(t.sites.c.name == name).order_by(t.sites.c.id)
        if member_id is not None:
            stmt = stmt.where(t.sites.c.member_id == member_id)
        rows = list(self._conn.execute(stmt))
        certs = self._certs([r.id for r in rows])
        return [self._site(r, certs.get(r.id, ())) for r in rows]

    def list(self, member_id: str | None = None) -> list[Site]:
        stmt = select(t.sites).order_by(t.sites.c.name)
        if member_id is not None:
            stmt = stmt.where(t.sites.c.member_id == member_id)
        rows = list(self._conn.execute(stmt))
        certs = self._certs([r.id for r in rows])
        return [self._site(r, certs.get(r.id, ())) for r in rows]

    def _certs(self, site_ids: builtins.list[str]) -> dict[str, tuple[Certification, ...]]:
        if not site_ids:
            return {}
        out: dict[str, list[Certification]] = {}
        stmt = select(t.certifications).order_by(t.certifications.c.kind, t.certifications.c.expires_on)
        if len(site_ids) < 500:  # a long IN list costs more than reading the few certificates there are
            stmt = stmt.where(t.certifications.c.site_id.in_(site_ids))
        for r in self._conn.execute(stmt):
            out.setdefault(r.site_id, []).append(
                Certification(CertificationKind(r.kind), r.expires_on, split_ints(r.activities), r.valid_from,
                              r.attested_at, r.attested_by, r.certificate_number, r.issuer))
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def _site(r: Row[Any], certs: tuple[Certification, ...]) -> Site:
        return Site(r.id, r.member_id, r.name, r.insee_code, r.timezone, certs, r.created_at, r.latitude,
                    r.longitude, r.carbon_g_per_kwh, r.country)


class OfferRepository(Repo):
    """Offers per site (host_id None) and per-host overrides."""

    def set(self, offer_id: str, site_id: str, host_id: str | None, offer: Offer, now: datetime) -> None:
        existing = self._one(select(t.offers.c.id).where(and_(
            t.offers.c.site_id == site_id,
            t.offers.c.host_id.is_(None) if host_id is None else t.offers.c.host_id == host_id)))
        values = dict(committed_percent=offer.committed_percent, default_percent=offer.default_percent,
                      windows=[_window_json(w) for w in offer.windows],
                      borrower_categories=",".join(sorted(c.value for c in offer.borrower_categories)),
                      reclaim_notice_s=offer.reclaim_notice_s, updated_at=now)
        if existing is None:
            self._conn.execute(insert(t.offers).values(id=offer_id, site_id=site_id, host_id=host_id, **values))
        else:
            self._conn.execute(update(t.offers).where(t.offers.c.id == existing.id).values(**values))
        self._bump_hosts(site_id, host_id)

    def remove_host_override(self, site_id: str, host_id: str) -> bool:
        result = self._conn.execute(delete(t.offers).where(t.offers.c.host_id == host_id))
        self._bump_hosts(site_id, host_id)
        return result.rowcount == 1

    def _bump_hosts(self, site_id: str, host_id: str | None) -> None:
        # An offer is part of every affected host's capacity: bump their generations so that a claim
        # decided on the old offer fails its compare-and-swap and re-reads.
        target = t.hosts.c.site_id == site_id if host_id is None else t.hosts.c.id == host_id
        self._conn.execute(update_hosts(target).values(generation=t.hosts.c.generation + 1))
        bump_revision(self._conn)

    def get(self, site_id: str, host_id: str | None = None) -> tuple[Offer, datetime] | None:
        row = self._one(select(t.offers).where(and_(
            t.offers.c.site_id == site_id,
            t.offers.c.host_id.is_(None) if host_id is None else t.offers.c.host_id == host_id)))
        return (_offer(row), row.updated_at) if row else None

    def all(self) -> dict[tuple[str, str | None], Offer]:
        """Every offer, keyed by (site id, host id or None)."""
        return {(r.site_id, r.host_id): _offer(r) for r in self._conn.execute(select(t.offers))}


def _window_json(w: Window) -> dict[str, Any]:
    return {"days": sorted(w.days), "start": w.start.strftime("%H:%M"), "end": w.end.strftime("%H:%M"),
            "share_percent": w.share_percent}


def _offer(r: Row[Any]) -> Offer:
    windows = tuple(Window(frozenset(w["days"]), time.fromisoformat(w["start"]), time.fromisoformat(w["end"]),
                           float(w["share_percent"])) for w in r.windows)
    cats = frozenset(MemberCategory(c) for c in r.borrower_categories.split(",") if c)
    return Offer(r.committed_percent, r.default_percent, windows, cats, r.reclaim_notice_s)
