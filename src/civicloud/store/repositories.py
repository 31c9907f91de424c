"""Repositories: read and write domain objects through one SQL connection.

Each repository is bound to the unit of work's connection, so everything a
service does in one unit of work commits or rolls back together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from civicloud.domain import (
    Agreement,
    AgreementKind,
    Allocation,
    Certification,
    CertificationKind,
    DesiredPower,
    Host,
    Member,
    MemberCategory,
    Offering,
    Ratios,
    Resources,
    ServiceClass,
    Site,
    Workload,
    WorkloadState,
)
from civicloud.store import tables as t


class _Repo:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _one(self, stmt: Any) -> Row[Any] | None:
        return self._conn.execute(stmt).first()


class MemberRepository(_Repo):
    def add(self, member: Member) -> None:
        self._conn.execute(insert(t.members).values(
            id=member.id, name=member.name, siren=member.siren, siret=member.siret,
            category=member.category.value, created_at=member.created_at))

    def get(self, member_id: str) -> Member | None:
        row = self._one(select(t.members).where(t.members.c.id == member_id))
        return _member(row) if row else None

    def get_by_name(self, name: str) -> Member | None:
        row = self._one(select(t.members).where(t.members.c.name == name))
        return _member(row) if row else None

    def list(self) -> list[Member]:
        rows = self._conn.execute(select(t.members).order_by(t.members.c.name))
        return [_member(r) for r in rows]


def _member(r: Row[Any]) -> Member:
    return Member(r.id, r.name, r.siren, r.siret, MemberCategory(r.category), r.created_at)


class AgreementRepository(_Repo):
    def add(self, agreement: Agreement) -> None:
        self._conn.execute(insert(t.agreements).values(
            id=agreement.id, member_id=agreement.member_id, kind=agreement.kind.value,
            valid_from=agreement.valid_from, valid_to=agreement.valid_to))

    def for_member(self, member_id: str) -> list[Agreement]:
        rows = self._conn.execute(select(t.agreements).where(t.agreements.c.member_id == member_id)
                                  .order_by(t.agreements.c.valid_from))
        return [Agreement(r.id, r.member_id, AgreementKind(r.kind), r.valid_from, r.valid_to) for r in rows]


class SiteRepository(_Repo):
    def add(self, site: Site, *, cert_ids: Sequence[str]) -> None:
        self._conn.execute(insert(t.sites).values(
            id=site.id, member_id=site.member_id, name=site.name, insee_code=site.insee_code,
            timezone=site.timezone, offer_share_percent=0.0, offer_updated_at=site.created_at,
            created_at=site.created_at))
        for cert_id, cert in zip(cert_ids, site.certifications, strict=True):
            self._conn.execute(insert(t.certifications).values(
                id=cert_id, site_id=site.id, kind=cert.kind.value,
                activities=",".join(str(a) for a in sorted(cert.activities)), expires_on=cert.expires_on))

    def get(self, site_id: str) -> tuple[Site, float, datetime] | None:
        """The site, its offer share and when the offer last changed."""
        row = self._one(select(t.sites).where(t.sites.c.id == site_id))
        if row is None:
            return None
        return self._site(row, self._certs([row.id]).get(row.id, ())), row.offer_share_percent, row.offer_updated_at

    def list(self, member_id: str | None = None) -> list[tuple[Site, float]]:
        stmt = select(t.sites).order_by(t.sites.c.name)
        if member_id is not None:
            stmt = stmt.where(t.sites.c.member_id == member_id)
        rows = list(self._conn.execute(stmt))
        certs = self._certs([r.id for r in rows])
        return [(self._site(r, certs.get(r.id, ())), r.offer_share_percent) for r in rows]

    def set_offer(self, site_id: str, share_percent: float, now: datetime) -> bool:
        result = self._conn.execute(update(t.sites).where(t.sites.c.id == site_id)
                                    .values(offer_share_percent=share_percent, offer_updated_at=now))
        # The share is part of every host's capacity: bump their generations so that a claim
        # decided on the old share fails its compare-and-swap and re-reads.
        self._conn.execute(update(t.hosts).where(t.hosts.c.site_id == site_id)
                           .values(generation=t.hosts.c.generation + 1))
        return result.rowcount == 1

    def _certs(self, site_ids: list[str]) -> dict[str, tuple[Certification, ...]]:
        if not site_ids:
            return {}
        out: dict[str, list[Certification]] = {}
        rows = self._conn.execute(select(t.certifications).where(t.certifications.c.site_id.in_(site_ids))
                                  .order_by(t.certifications.c.kind, t.certifications.c.expires_on))
        for r in rows:
            acts = frozenset(int(a) for a in r.activities.split(",") if a)
            out.setdefault(r.site_id, []).append(Certification(CertificationKind(r.kind), r.expires_on, acts))
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def _site(r: Row[Any], certs: tuple[Certification, ...]) -> Site:
        return Site(r.id, r.member_id, r.name, r.insee_code, r.timezone, certs, r.created_at)


_HOST_COLUMNS = [c for c in t.hosts.c] + [t.sites.c.offer_share_percent]


class HostRepository(_Repo):
    def _select(self) -> Any:
        return (select(*_HOST_COLUMNS).select_from(t.hosts.join(t.sites, t.hosts.c.site_id == t.sites.c.id))
                .order_by(t.sites.c.name, t.hosts.c.name))

    def get(self, host_id: str) -> Host | None:
        row = self._one(self._select().where(t.hosts.c.id == host_id))
        return _host(row) if row else None

    def list(self, site_id: str | None = None) -> list[Host]:
        stmt = self._select()
        if site_id is not None:
            stmt = stmt.where(t.hosts.c.site_id == site_id)
        return [_host(r) for r in self._conn.execute(stmt)]

    def snapshot(self) -> list[Host]:
        """Every host with its site's offer: what the scheduler reads."""
        return self.list()

    def report(self, site_id: str, name: str, uri: str, total: Resources,
               now: datetime, new_id: str) -> str:
        """Record an agent's report of a host: create it the first time, refresh it after."""
        existing = self._one(select(t.hosts.c.id).where(and_(t.hosts.c.site_id == site_id, t.hosts.c.name == name)))
        values = dict(libvirt_uri=uri, vcpus=total.vcpus, memory_mib=total.memory_mib,
                      disk_gib=total.disk_gib, last_seen_at=now)
        if existing is None:
            self._conn.execute(insert(t.hosts).values(id=new_id, site_id=site_id, name=name, created_at=now,
                                                      **values))
            return new_id
        # Inventory changes bump the generation too, so a claim made on stale totals fails.
        self._conn.execute(update(t.hosts).where(t.hosts.c.id == existing.id)
                           .values(generation=t.hosts.c.generation + 1, **values))
        return str(existing.id)

    def claim(self, host_id: str, seen_generation: int, delta: Resources) -> bool:
        """Add ``delta`` to the host's allocations if nobody changed the host since we read it."""
        result = self._conn.execute(
            update(t.hosts)
            .where(and_(t.hosts.c.id == host_id, t.hosts.c.generation == seen_generation))
            .values(generation=t.hosts.c.generation + 1,
                    allocated_vcpus=t.hosts.c.allocated_vcpus + delta.vcpus,
                    allocated_memory_mib=t.hosts.c.allocated_memory_mib + delta.memory_mib,
                    allocated_disk_gib=t.hosts.c.allocated_disk_gib + delta.disk_gib))
        return result.rowcount == 1

    def release(self, host_id: str, delta: Resources) -> None:
        """Give ``delta`` back; atomic, and bumps the generation so stale claims re-read."""
        self._conn.execute(
            update(t.hosts).where(t.hosts.c.id == host_id)
            .values(generation=t.hosts.c.generation + 1,
                    allocated_vcpus=t.hosts.c.allocated_vcpus - delta.vcpus,
                    allocated_memory_mib=t.hosts.c.allocated_memory_mib - delta.memory_mib,
                    allocated_disk_gib=t.hosts.c.allocated_disk_gib - delta.disk_gib))

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.hosts)).scalar_one())


def _host(r: Row[Any]) -> Host:
    return Host(
        id=r.id, site_id=r.site_id, name=r.name, libvirt_uri=r.libvirt_uri,
        total=Resources(r.vcpus, r.memory_mib, r.disk_gib),
        reserved=Resources(r.reserved_vcpus, r.reserved_memory_mib, r.reserved_disk_gib),
        ratios=Ratios(r.cpu_ratio, r.ram_ratio, r.disk_ratio),
        allocated=Resources(r.allocated_vcpus, r.allocated_memory_mib, r.allocated_disk_gib),
        generation=r.generation, last_seen_at=r.last_seen_at, lend_share_percent=r.offer_share_percent)


class OfferingRepository(_Repo):
    def add(self, offering: Offering) -> None:
        res = offering.resources
        self._conn.execute(insert(t.offerings).values(
            id=offering.id, name=offering.name, description=offering.description, vcpus=res.vcpus,
            memory_mib=res.memory_mib, disk_gib=res.disk_gib, service_class=offering.service_class.value))

    def get(self, offering_id: str) -> Offering | None:
        row = self._one(select(t.offerings).where(t.offerings.c.id == offering_id))
        return _offering(row) if row else None

    def get_by_name(self, name: str) -> Offering | None:
        row = self._one(select(t.offerings).where(t.offerings.c.name == name))
        return _offering(row) if row else None

    def list(self) -> list[Offering]:
        return [_offering(r) for r in self._conn.execute(select(t.offerings).order_by(t.offerings.c.name))]


def _offering(r: Row[Any]) -> Offering:
    return Offering(r.id, r.name, r.description, Resources(r.vcpus, r.memory_mib, r.disk_gib),
                    ServiceClass(r.service_class))


class WorkloadRepository(_Repo):
    def add(self, w: Workload) -> None:
        self._conn.execute(insert(t.workloads).values(
            id=w.id, member_id=w.member_id, offering_id=w.offering_id, name=w.name, state=w.state.value,
            desired=w.desired.value, host_id=w.host_id, message=w.message, created_at=w.created_at,
            updated_at=w.updated_at))

    def get(self, workload_id: str) -> Workload | None:
        row = self._one(select(t.workloads).where(t.workloads.c.id == workload_id))
        return _workload(row) if row else None

    def list(self, *, member_id: str | None = None, state: WorkloadState | None = None,
             include_deleted: bool = False, limit: int = 1000) -> list[Workload]:
        stmt = select(t.workloads).order_by(t.workloads.c.created_at, t.workloads.c.id).limit(limit)
        if member_id is not None:
            stmt = stmt.where(t.workloads.c.member_id == member_id)
        if state is not None:
            stmt = stmt.where(t.workloads.c.state == state.value)
        elif not include_deleted:
            stmt = stmt.where(t.workloads.c.state != WorkloadState.DELETED.value)
        return [_workload(r) for r in self._conn.execute(stmt)]

    def pending(self, limit: int) -> list[Workload]:
        """Pending workloads in arrival order."""
        return self.list(state=WorkloadState.PENDING, limit=limit)

    def on_site(self, site_id: str) -> list[tuple[Workload, str]]:
        """Live workloads placed on the site's hosts, with the host's name."""
        stmt = (select(t.workloads, t.hosts.c.name.label("host_name"))
                .select_from(t.workloads.join(t.hosts, t.workloads.c.host_id == t.hosts.c.id))
                .where(and_(t.hosts.c.site_id == site_id, t.workloads.c.state != WorkloadState.DELETED.value))
                .order_by(t.workloads.c.created_at))
        return [(_workload(r), r.host_name) for r in self._conn.execute(stmt)]

    def update(self, workload_id: str, expected_state: WorkloadState, *, now: datetime, **values: Any) -> bool:
        """Change a workload if its state is still ``expected_state`` (compare-and-swap on the state)."""
        for key in ("state", "desired"):
            if key in values and hasattr(values[key], "value"):
                values[key] = values[key].value
        result = self._conn.execute(
            update(t.workloads)
            .where(and_(t.workloads.c.id == workload_id, t.workloads.c.state == expected_state.value))
            .values(updated_at=now, **values))
        return result.rowcount == 1


def _workload(r: Row[Any]) -> Workload:
    return Workload(r.id, r.member_id, r.offering_id, r.name, WorkloadState(r.state), DesiredPower(r.desired),
                    r.host_id, r.message, r.created_at, r.updated_at)


class AllocationRepository(_Repo):
    def add(self, a: Allocation) -> None:
        self._conn.execute(insert(t.allocations).values(
            id=a.id, workload_id=a.workload_id, host_id=a.host_id, vcpus=a.resources.vcpus,
            memory_mib=a.resources.memory_mib, disk_gib=a.resources.disk_gib, created_at=a.created_at))

    def open_for(self, workload_id: str) -> Allocation | None:
        row = self._one(select(t.allocations).where(and_(t.allocations.c.workload_id == workload_id,
                                                         t.allocations.c.released_at.is_(None))))
        return _allocation(row) if row else None

    def close(self, allocation_id: str, now: datetime) -> bool:
        result = self._conn.execute(update(t.allocations)
                                    .where(and_(t.allocations.c.id == allocation_id,
                                                t.allocations.c.released_at.is_(None)))
                                    .values(released_at=now))
        return result.rowcount == 1

    def open_totals_by_host(self) -> dict[str, Resources]:
        """Sum of open allocations per host, to check the hosts' counters against."""
        stmt = (select(t.allocations.c.host_id, func.sum(t.allocations.c.vcpus), func.sum(t.allocations.c.memory_mib),
                       func.sum(t.allocations.c.disk_gib))
                .where(t.allocations.c.released_at.is_(None)).group_by(t.allocations.c.host_id))
        return {r[0]: Resources(int(r[1]), int(r[2]), int(r[3])) for r in self._conn.execute(stmt)}


def _allocation(r: Row[Any]) -> Allocation:
    return Allocation(r.id, r.workload_id, r.host_id, Resources(r.vcpus, r.memory_mib, r.disk_gib),
                      r.created_at, r.released_at)


class CredentialRepository(_Repo):
    def add_join_token(self, token_id: str, site_id: str, token_hash: str, now: datetime,
                       expires_at: datetime) -> None:
        self._conn.execute(insert(t.join_tokens).values(id=token_id, site_id=site_id, token_hash=token_hash,
                                                        expires_at=expires_at, created_at=now))

    def consume_join_token(self, token_hash: str, now: datetime) -> str | None:
        """Mark a valid, unused token used and return its site; None if it is not (any longer) valid."""
        row = self._one(select(t.join_tokens).where(t.join_tokens.c.token_hash == token_hash))
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        result = self._conn.execute(update(t.join_tokens)
                                    .where(and_(t.join_tokens.c.id == row.id, t.join_tokens.c.used_at.is_(None)))
                                    .values(used_at=now))
        return str(row.site_id) if result.rowcount == 1 else None

    def add_site_credential(self, cred_id: str, site_id: str, secret_hash: str, agent_name: str,
                            now: datetime) -> None:
        self._conn.execute(insert(t.site_credentials).values(id=cred_id, site_id=site_id, secret_hash=secret_hash,
                                                             agent_name=agent_name, created_at=now))

    def site_for_credential(self, secret_hash: str) -> str | None:
        row = self._one(select(t.site_credentials.c.site_id).where(and_(
            t.site_credentials.c.secret_hash == secret_hash, t.site_credentials.c.revoked_at.is_(None))))
        return str(row.site_id) if row else None
