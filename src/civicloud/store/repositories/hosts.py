"""Hosts: created and refreshed by agents' reports, claimed and released with compare-and-swap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update

from civicloud.domain import Host, Ratios, Resources, ServiceClass
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

H = t.hosts.c


def update_hosts(*where: Any) -> Any:
    """Every write to a host's row goes through here: it moves the row's revision (``tables.hosts``)."""
    return update(t.hosts).where(*where).values(revision=H.revision + 1)


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
               now: datetime, new_id: str, cpu_busy_percent: float | None = None) -> str:
        """Record an agent's report of a host: create it the first time, refresh it after."""
        existing = self._one(select(H.id, H.vcpus, H.memory_mib, H.disk_gib, H.gpus)
                             .where(and_(H.site_id == site_id, H.name == name)))
        values = dict(libvirt_uri=uri, vcpus=total.vcpus, memory_mib=total.memory_mib, disk_gib=total.disk_gib,
                      gpus=total.gpus, owner_vcpus_used=owner_used.vcpus,
                      owner_memory_mib_used=owner_used.memory_mib, last_seen_at=now,
                      cpu_busy_percent=cpu_busy_percent)
        if existing is None:
            self._conn.execute(insert(t.hosts).values(id=new_id, site_id=site_id, name=name, created_at=now,
                                                      **values))
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
        idle_watts=r.idle_watts, max_watts=r.max_watts)
