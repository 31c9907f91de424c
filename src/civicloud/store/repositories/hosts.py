"""Hosts: created and refreshed by agents' reports, claimed and released with compare-and-swap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Row, and_, case, func, insert, literal, select, union_all, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from civicloud.domain import Host, Ratios, Resources, ServiceClass
from civicloud.domain.capacity import DataPlaneState
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

H = t.hosts.c


# Revisions are summed modulo this prime in ``revisions_since`` (a plain sum of 50,000 µs instants overflows).
CHECKSUM_MODULUS = 2_147_483_647


class _MicrosNow(FunctionElement[int]):
    """The database's clock in microseconds since the epoch, read when the statement runs."""

    type = BigInteger()
    inherit_cache = True


@compiles(_MicrosNow, "postgresql")
def _pg_micros(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"


@compiles(_MicrosNow)
def _sqlite_micros(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"


def next_revision() -> Any:
    """A host's next revision: one more than its last, and at least the database's clock in microseconds, so
    that revisions of all hosts rise together and "the hosts that moved since" is a range (``revisions_since``).
    Only the first matters for correctness: a revision never repeats for a host."""
    now = _MicrosNow()
    return case((H.revision + 1 > now, H.revision + 1), else_=now)


def update_hosts(*where: Any) -> Any:
    """Every write to a host's row goes through here: it moves the row's revision (``tables.hosts``)."""
    return update(t.hosts).where(*where).values(revision=next_revision())


class HostRepository(Repo):
    def _select(self) -> Any:
        return (select(t.hosts).select_from(t.hosts.join(t.sites, H.site_id == t.sites.c.id))
                .order_by(t.sites.c.name, H.name))

    def get(self, host_id: str) -> Host | None:
        row = self._one(self._select().where(H.id == host_id))
        return _host(row) if row else None

    def revisions(self) -> list[tuple[str, int]]:
        """(id, revision) of every host, in the order ``list`` gives them."""
        stmt = (select(H.id, H.revision).select_from(t.hosts.join(t.sites, H.site_id == t.sites.c.id))
                .order_by(t.sites.c.name, H.name))
        return [(str(r.id), int(r.revision)) for r in self._conn.execute(stmt)]

    def revisions_since(self, mark: int) -> tuple[list[tuple[str, int]], int, int]:
        """(id, revision) of the hosts whose revision is above ``mark``, with how many hosts there are and the
        sum of all their revisions modulo ``CHECKSUM_MODULUS``: read in one statement, so from one snapshot of
        the table. A reader that knew every revision before can tell from the count and the sum whether the
        rows above the mark are all that moved (a write committed late, under the mark, shows in the sum)."""
        moved = select(H.id, H.revision, literal(-1, BigInteger()).label("n")).where(H.revision > mark)
        totals = select(literal(""), func.coalesce(func.sum(H.revision % CHECKSUM_MODULUS), 0), func.count())
        rows = self._conn.execute(union_all(moved, totals)).all()
        count, checksum = next((int(r[2]), int(r[1])) for r in rows if r[2] != -1)
        return [(str(r[0]), int(r[1])) for r in rows if r[2] == -1], count, checksum

    def whereabouts(self, host_ids: list[str]) -> list[tuple[str, str, str, str, str]]:
        """(host id, site id, site name, lending member's id, its name) of each known host of ``host_ids``."""
        if not host_ids:
            return []
        s, m = t.sites.c, t.members.c
        stmt = (select(H.id, s.id.label("site_id"), s.name, m.id.label("member_id"), m.name.label("member_name"))
                .select_from(t.hosts.join(t.sites, H.site_id == s.id).join(t.members, s.member_id == m.id))
                .where(H.id.in_(host_ids[:1000])))
        return [(r.id, r.site_id, r.name, r.member_id, r.member_name) for r in self._conn.execute(stmt)]

    def get_many(self, host_ids: list[str]) -> list[Host]:
        out: list[Host] = []
        for start in range(0, len(host_ids), 500):  # bounded IN lists
            out += [_host(r) for r in self._conn.execute(self._select().where(H.id.in_(host_ids[start:start + 500])))]
        return out

    def list(self, site_id: str | None = None) -> list[Host]:
        stmt = self._select()
        if site_id is not None:
            stmt = stmt.where(H.site_id == site_id)
        return [_host(r) for r in self._conn.execute(stmt)]

    def report(self, site_id: str, name: str, uri: str, total: Resources, owner_used: Resources,
               now: datetime, new_id: str, cpu_busy_percent: float | None = None,
               tunnel_ip: str | None = None, data_plane: DataPlaneState | None = None) -> str:
        """Record an agent's report of a host: create it the first time, refresh it after."""
        existing = self._one(select(H.id, H.vcpus, H.memory_mib, H.disk_gib, H.gpus)
                             .where(and_(H.site_id == site_id, H.name == name)))
        values = dict(libvirt_uri=uri, vcpus=total.vcpus, memory_mib=total.memory_mib, disk_gib=total.disk_gib,
                      gpus=total.gpus, owner_vcpus_used=owner_used.vcpus,
                      owner_memory_mib_used=owner_used.memory_mib, last_seen_at=now,
                      cpu_busy_percent=cpu_busy_percent, tunnel_ip=tunnel_ip,
                      data_plane=None if data_plane is None else {
                          "networks": data_plane.networks, "ports": data_plane.ports, "digest": data_plane.digest,
                          "errors": list(data_plane.errors)})
        if existing is None:
            self._conn.execute(insert(t.hosts).values(id=new_id, site_id=site_id, name=name, created_at=now,
                                                      revision=_MicrosNow(), **values))
            return new_id
        # A change of inventory bumps the generation, so a claim decided on stale totals fails. A plain
        # heartbeat does not: it would make every concurrent claim on the host lose for nothing.
        changed = (existing.vcpus, existing.memory_mib, existing.disk_gib, existing.gpus) != total.as_tuple()
        bump = {"generation": H.generation + 1} if changed else {}
        self._conn.execute(update_hosts(H.id == existing.id).values(**values, **bump))
        return str(existing.id)

    def claim(self, host_id: str, seen_generation: int, delta: Resources, service_class: ServiceClass) -> bool:
        """Add ``delta`` to the host's allocations if nobody changed the host since we read it."""
        result = self._conn.execute(
            update_hosts(and_(H.id == host_id, H.generation == seen_generation))
            .values(generation=H.generation + 1, **_deltas(delta, service_class, +1)))
        return result.rowcount == 1

    def release(self, host_id: str, delta: Resources, service_class: ServiceClass) -> None:
        """Give ``delta`` back; atomic, and bumps the generation so stale claims re-read."""
        self._conn.execute(update_hosts(H.id == host_id)
                           .values(generation=H.generation + 1, **_deltas(delta, service_class, -1)))

    def set_reserve(self, host_id: str, reserved: Resources, ratios: Ratios) -> bool:
        """The owner's reserve and the allocation ratios; bumps the generation (capacity changed)."""
        result = self._conn.execute(update_hosts(H.id == host_id).values(
            generation=H.generation + 1, reserved_vcpus=reserved.vcpus, reserved_memory_mib=reserved.memory_mib,
            reserved_disk_gib=reserved.disk_gib, reserved_gpus=reserved.gpus, cpu_ratio=ratios.cpu,
            ram_ratio=ratios.ram, disk_ratio=ratios.disk))
        return result.rowcount == 1

    def set_power(self, host_id: str, idle_watts: float, max_watts: float) -> bool:
        result = self._conn.execute(update_hosts(H.id == host_id).values(idle_watts=idle_watts,
                                                                                  max_watts=max_watts))
        return result.rowcount == 1

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.hosts)).scalar_one())


def _deltas(delta: Resources, service_class: ServiceClass, sign: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    names = ("vcpus", "memory_mib", "disk_gib", "gpus")
    for name, amount in zip(names, delta.as_tuple(), strict=True):
        values[f"allocated_{name}"] = getattr(H, f"allocated_{name}") + sign * amount
        if service_class is ServiceClass.GUARANTEED:
            values[f"guaranteed_{name}"] = getattr(H, f"guaranteed_{name}") + sign * amount
    return values


def _host(r: Row[Any]) -> Host:
    return Host(
        id=r.id, site_id=r.site_id, name=r.name, libvirt_uri=r.libvirt_uri,
        total=Resources(r.vcpus, r.memory_mib, r.disk_gib, r.gpus),
        reserved=Resources(r.reserved_vcpus, r.reserved_memory_mib, r.reserved_disk_gib, r.reserved_gpus),
        ratios=Ratios(r.cpu_ratio, r.ram_ratio, r.disk_ratio),
        allocated=Resources(r.allocated_vcpus, r.allocated_memory_mib, r.allocated_disk_gib, r.allocated_gpus),
        generation=r.generation, last_seen_at=r.last_seen_at, lend_share_percent=0.0,
        allocated_guaranteed=Resources(r.guaranteed_vcpus, r.guaranteed_memory_mib, r.guaranteed_disk_gib,
                                       r.guaranteed_gpus),
        owner_used=Resources(r.owner_vcpus_used, r.owner_memory_mib_used), cpu_busy_percent=r.cpu_busy_percent,
        idle_watts=r.idle_watts, max_watts=r.max_watts, tunnel_ip=r.tunnel_ip, data_plane=_data_plane(r.data_plane))


def _data_plane(value: Any) -> DataPlaneState | None:
    if not isinstance(value, dict):
        return None
    return DataPlaneState(int(value.get("networks", 0)), int(value.get("ports", 0)), str(value.get("digest", "")),
                          tuple(str(e) for e in value.get("errors", [])))
