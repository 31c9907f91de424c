"""Build placement scenes straight into the store (no HTTP): members, sites with offers, hosts, offerings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from civicloud.clock import FrozenClock
from civicloud.clock import random_ids as new_id
from civicloud.domain import (
    Certification,
    CertificationKind,
    DesiredPower,
    Member,
    MemberCategory,
    Offer,
    Offering,
    Residency,
    Resources,
    ServiceClass,
    Site,
    Window,
    Workload,
    WorkloadState,
)
from civicloud.store import Engine, SqlUnitOfWork, UnitOfWork

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
WEEKDAYS = frozenset(range(5))
NIGHTS_ONLY = Offer(default_percent=0, windows=(Window(WEEKDAYS, time(20), time(7), 80),
                                                Window(frozenset({5, 6}), time(0), time(0), 80)))
# Attested by the federation's operator: only attested certifications count for placement.
HDS_VALID = Certification(CertificationKind.HDS, date(2027, 12, 31), frozenset(range(1, 7)), attested_at=EPOCH,
                          attested_by="user:operator", certificate_number="HDS-0001", issuer="a certification body")
HDS_EXPIRED = replace(HDS_VALID, expires_on=date(2026, 6, 30))
SIRENS = iter(["219300290", "219300084", "269300612", "912345675", "217500016", "213105554", "210100012"] * 100)


@dataclass
class Scene:
    """A region written straight into the store, on a frozen clock that its units of work share: the services
    under test read ``scene.clock``; ``scene.at(t)`` moves it, the hosts' agents heartbeating as they do."""

    uow_factory: Callable[[], UnitOfWork]
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(EPOCH))
    members: dict[str, Member] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    hosts: dict[str, str] = field(default_factory=dict)  # name -> id
    offerings: dict[str, Offering] = field(default_factory=dict)
    reported: dict[str, tuple[str, Resources, Resources]] = field(default_factory=dict)  # host -> site, total, owner
    arrivals: int = 0  # requests made without an instant arrive a microsecond apart, in the order they are made

    @classmethod
    def on(cls, engine: Engine, at: datetime = EPOCH) -> Scene:
        clock = FrozenClock(at)
        return cls(lambda: SqlUnitOfWork(engine, clock), clock)

    def at(self, when: datetime, *, silent: tuple[str, ...] = ()) -> None:
        """Now is ``when``, and every host's agent but the ``silent`` ones has just sent its heartbeat (they
        do every few seconds), with the inventory and owner's load it last reported."""
        self.clock.set(when)
        with self.uow_factory() as uow:
            for name, (site_id, total, owner) in self.reported.items():
                if name not in silent:
                    uow.hosts.report(site_id, name, "test:///default", total, owner, when, new_id())
            uow.commit()

    def member(self, name: str, category: MemberCategory = MemberCategory.COMMUNE) -> Member:
        m = Member(new_id(), name, next(SIRENS), None, category, EPOCH)
        with self.uow_factory() as uow:
            uow.members.add(m)
            uow.commit()
        self.members[name] = m
        return m

    def site(self, name: str, member: str, offer: Offer | None, *, certs: tuple[Certification, ...] = (),
             insee: str = "93029") -> Site:
        s = Site(new_id(), self.members[member].id, name, insee, "Europe/Paris", certs, EPOCH)
        with self.uow_factory() as uow:
            uow.sites.add(s, cert_ids=[new_id() for _ in certs])
            if offer is not None:
                uow.offers.set(new_id(), s.id, None, offer, EPOCH)
            uow.commit()
        self.sites[name] = s
        return s

    def host(self, name: str, site: str, vcpus: int = 16, memory_mib: int = 65536, disk_gib: int = 500,
             owner: Resources = Resources(), seen: datetime | None = None) -> str:
        total = Resources(vcpus, memory_mib, disk_gib)
        with self.uow_factory() as uow:
            host_id = uow.hosts.report(self.sites[site].id, name, "test:///default", total, owner,
                                       seen or self.clock(), new_id())
            uow.commit()
        self.reported[name] = (self.sites[site].id, total, owner)
        self.hosts[name] = host_id
        return host_id

    def offering(self, name: str, vcpus: int = 1, memory_mib: int = 1024, disk_gib: int = 10,
                 service_class: ServiceClass = ServiceClass.HARVEST, hds: frozenset[int] = frozenset()) -> Offering:
        o = Offering(new_id(), name, "", Resources(vcpus, memory_mib, disk_gib), service_class, hds)
        with self.uow_factory() as uow:
            uow.offerings.add(o)
            uow.commit()
        self.offerings[name] = o
        return o

    def workload(self, member: str, offering: str, name: str | None = None, at: datetime | None = None,
                 group_id: str | None = None, residency: Residency = Residency()) -> str:
        o = self.offerings[offering]
        self.arrivals += 1
        when = at or self.clock() + timedelta(microseconds=self.arrivals)
        w = Workload(new_id(), self.members[member].id, o.id, name or new_id()[:8], WorkloadState.PENDING,
                     DesiredPower.RUNNING, None, "waiting for placement", when, when, o.service_class, group_id,
                     residency)
        with self.uow_factory() as uow:
            uow.workloads.add(w)
            uow.commit()
        return w.id

    def workloads(self, member: str, offering: str, count: int, start: datetime) -> list[str]:
        """``count`` pending requests in one transaction, arriving a microsecond apart from ``start``."""
        o = self.offerings[offering]
        ids = []
        with self.uow_factory() as uow:
            for i in range(count):
                when = start + timedelta(microseconds=i)
                w = Workload(new_id(), self.members[member].id, o.id, new_id()[:12], WorkloadState.PENDING,
                             DesiredPower.RUNNING, None, "waiting for placement", when, when, o.service_class)
                uow.workloads.add(w)
                ids.append(w.id)
            uow.commit()
        return ids

    def get(self, workload_id: str) -> Workload:
        with self.uow_factory() as uow:
            w = uow.workloads.get(workload_id)
        assert w is not None
        return w
