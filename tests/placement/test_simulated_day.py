"""A simulated day of a region: the control loop on a stepping clock, in-process, on SQLite.

Drancy's town hall lends one host: a quarter of it by day, all of it from 20:00 to 07:00 (Paris time), with
fifteen minutes' notice. Bobigny asks for six harvest VMs at midnight on Wednesday 30 September 2026. The
simulation ticks every five minutes until midnight; at each instant Drancy's agent (the real agent's
reconciliation, ``agent.reconcile``, over hypervisors in memory) reports, then the control loop runs.

    00:00  the six are placed and started (12 vCPU, 24 GiB of the 32 vCPU, 32 GiB lent at night)
    07:00  the night window closes: 8 vCPU and 8 GiB lent — 16 GiB over, so the four newest are evicted,
           to stop at 07:15 unless re-placed (no other host lends: they are not)
    07:15  the agent stops them at their deadline; their allocations are given back; they queue
    20:00  the window opens again: the four are placed again and started
    24:00  the day ends; September is billed

Hand figures, at 0.01 € per vCPU·hour and 0.002 € per GiB·hour, one line per workload rounded to the cent:
the two oldest held 2 vCPU and 4 GiB for 24 h: 0.48 + 0.192 = 0.672 → 0.67 € each; the four others for
7.25 h + 4 h = 11.25 h: 0.225 + 0.090 = 0.315 → 0.32 € each. Bobigny's invoice: 2 × 0.67 + 4 × 0.32 = 2.62 €.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from civicloud.clock import FrozenClock, SequentialIds
from civicloud.domain import Offer, Window, WorkloadState
from civicloud.domain.identity import Principal, Role
from civicloud.services import billing, catalogue, members, sites, workloads
from civicloud.services.audit import list_entries, verify
from civicloud.services.loops import PlacementLoop
from civicloud.services.placement import PlacementSettings
from civicloud.store import SqlUnitOfWork, make_engine, upgrade
from civicloud.wire import (
    AgreementCreate,
    HostReport,
    MemberCreate,
    OfferingCreate,
    PriceBookCreate,
    SiteCreate,
    WorkloadCreate,
)

from simulation import SimulatedSite, Simulation

PARIS = ZoneInfo("Europe/Paris")
OPERATOR = Principal("system:simulation", frozenset({Role.FEDERATION_ADMIN}))  # the region's operator
MIDNIGHT = datetime(2026, 9, 30, 0, 0, tzinfo=PARIS).astimezone(UTC)
NIGHTS = Offer(default_percent=25, reclaim_notice_s=900,
               windows=(Window(frozenset(range(7)), time(20), time(7), 100),))


def paris(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 9, 30, hh, mm, tzinfo=PARIS).astimezone(UTC)


def test_simulated_day_of_reclaim_and_billing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'region.db'}")
    upgrade(engine)
    clock = FrozenClock(MIDNIGHT - timedelta(minutes=10))
    ids = SequentialIds()

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock, ids)

    drancy, bobigny = (members.create_member(uow(), OPERATOR, MemberCreate(name=name, siren=siren, category="commune"))
                       for name, siren in (("Drancy", "219300290"), ("Bobigny", "219300084")))
    for member in (drancy, bobigny):
        members.add_agreement(uow(), OPERATOR, member.id, AgreementCreate(kind="mutualisation_convention",
                                                                           valid_from="2026-01-01"))
    site = sites.create_site(uow(), OPERATOR, SiteCreate(member_id=drancy.id, name="drancy-mairie", insee_code="93029"))
    sites.set_site_offer(uow(), OPERATOR, site.id, NIGHTS)
    catalogue.create_offering(uow(), OPERATOR, OfferingCreate(name="vm-m", vcpus=2, memory_mib=4096, disk_gib=10))
    billing.add_price_book(uow(), OPERATOR, PriceBookCreate(name="at cost", valid_from="2026-09-01",
                                                            vcpu_hour=Decimal("0.01"), ram_gib_hour=Decimal("0.002")))
    host = HostReport(name="hv1", libvirt_uri="test:///default", vcpus=8, memory_mib=32768, disk_gib=500)
    drancy_site = SimulatedSite(uow, site.id, [host])
    loop = PlacementLoop(uow, PlacementSettings(), interval_s=3600)
    sim = Simulation(clock, loop, [drancy_site])

    seen: dict[str, tuple[int, set[str]]] = {}  # "hh:mm" -> (workloads evicting, guests running)

    def watch(now: datetime) -> None:
        with uow() as u:
            evicting = [w for w in u.workloads.list(member_id=bobigny.id) if w.state is WorkloadState.EVICTING]
        seen[now.astimezone(PARIS).strftime("%H:%M")] = (len(evicting), drancy_site.running())

    sim.on_tick.append(watch)
    sim.run_until(MIDNIGHT - timedelta(minutes=5))
    # A member's user asks, as it would through any front: the service checks it is Bobigny's to ask.
    bobigny_user = Principal("user:it@bobigny", frozenset({Role.MEMBER_USER}), bobigny.id)
    made = [workloads.create_workload(uow(), bobigny_user, WorkloadCreate(member_id="Bobigny", offering_id="vm-m",
                                                                          name=f"job-{i}")) for i in range(6)]
    assert {w.created_at for w in made} == {MIDNIGHT}  # the requests come in at midnight, before its tick
    sim.run_until(paris(23, 55))
    assert clock() == paris(0) + timedelta(days=1)  # the day is over: September can be billed

    everyone = {w.id for w in made}
    oldest, newest = {made[0].id, made[1].id}, {w.id for w in made[2:]}
    assert seen["00:05"] == (0, everyone)  # placed at 00:00, started by the agent at its next pass
    assert seen["06:55"] == (0, everyone)
    assert seen["07:00"] == (4, everyone)  # evicted with notice, still running
    assert seen["07:10"] == (4, everyone)
    assert seen["07:15"] == (0, oldest)  # stopped at the deadline, queued
    assert seen["19:55"] == (0, oldest)
    assert seen["20:05"] == (0, everyone)  # placed again when the window opened
    assert seen["23:55"] == (0, everyone)

    run, created = billing.run_billing(uow, OPERATOR, "2026-09")
    assert created
    with uow() as u:
        invoices = [d for d in u.billing.documents(run_id=run.id) if d.kind == "invoice"]
    assert [(d.member_id, d.total_cents) for d in invoices] == [(bobigny.id, 262)]

    actions = [e.action for e in list_entries(uow(), OPERATOR, limit=1000)]
    assert actions.count("placement.place") == 10  # six at midnight, four again at 20:00
    assert actions.count("reclaim.evict") == 4
    assert actions.count("allocation.release") == 4
    evictions = [e for e in list_entries(uow(), OPERATOR, action="reclaim.evict")]
    assert {e.target.split(",")[0].removeprefix("workload=") for e in evictions} == newest
    assert all(e.target.endswith(f"deadline={paris(7, 15).isoformat()}") for e in evictions)
    assert verify(uow(), OPERATOR) == (len(actions), None)
    engine.dispose()
