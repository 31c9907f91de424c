"""Several schedulers on one PostgreSQL never overbook a host (the claim's compare-and-swap holds).

Each scheduler is ``place_pending``, as every control-plane replica runs it:
threads of one process, or processes with engines of their own. SQLite takes
its write lock at BEGIN (one writer at a time), so these races only exist on
PostgreSQL, where several replicas share a database.

The books must balance after any interleaving: per host, open allocations fit
in what the host lends now and guaranteed ones in its committed share, and the
host's ``allocated_*`` and ``guaranteed_*`` counters are exactly the sums of
its open allocations.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from civicloud.clock import system_clock as utcnow
from civicloud.domain import (
    DesiredPower,
    Member,
    MemberCategory,
    Offer,
    Offering,
    Resources,
    ServiceClass,
    Site,
    Workload,
    WorkloadState,
)
from civicloud.scheduler import Snapshot, planning
from civicloud.services import catalogue, placement
from civicloud.services.placement import PlacementOutcome, PlacementSettings, place_pending
from civicloud.store import UnitOfWork

from civicloud_support import OPERATOR, SIREN_BOBIGNY, SIREN_DRANCY
from store_scene import new_id, run_place_pending

Uows = Callable[[], UnitOfWork]
S = WorkloadState
HARVEST, GUARANTEED = ServiceClass.HARVEST, ServiceClass.GUARANTEED
SETTINGS = PlacementSettings(stale_after=timedelta(seconds=60), retries=3)
ONE = Resources(1, 1024, 10)
TINY = Resources(2, 8192, 100)
# Lends all of each host at any hour; guaranteed work may use only half of it.
OFFER = Offer(committed_percent=50, default_percent=100)

only_postgres = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@dataclass(frozen=True)
class Queue:
    site_id: str
    host_ids: list[str]
    workload_ids: list[str]


def report_tiny_host(uow_factory: Uows, site_id: str, name: str, seen_at: datetime) -> None:
    with uow_factory() as uow:
        uow.hosts.report(site_id, name, "test:///default", TINY, Resources(), seen_at, new_id())
        uow.commit()


def build(uow_factory: Uows, *, hosts: int, harvest: int, guaranteed: int = 0) -> Queue:
    """
        member Drancy ── site drancy-mairie, offer 100 % at all hours, 50 % of it committed
                           └─ hosts tiny-0 … tiny-<hosts-1>: 2 vCPU (× 4 = 8 lendable), 8192 MiB, 100 GiB
                              each takes exactly 8 workloads of 1 vCPU / 1024 MiB / 10 GiB, at most 4 guaranteed
        member Bobigny: <harvest> + <guaranteed> pending workloads of that size, all created at once
                        (arrival order is then their ids' order: the classes come mixed)
    """
    now = utcnow()
    drancy = Member(new_id(), "Drancy", SIREN_DRANCY, None, MemberCategory.COMMUNE, now)
    bobigny = Member(new_id(), "Bobigny", SIREN_BOBIGNY, None, MemberCategory.COMMUNE, now)
    site = Site(new_id(), drancy.id, "drancy-mairie", "93029", "Europe/Paris", (), now)
    offerings = {HARVEST: Offering(new_id(), "vm-one", "", ONE, HARVEST),
                 GUARANTEED: Offering(new_id(), "vm-one-guaranteed", "", ONE, GUARANTEED)}
    with uow_factory() as uow:
        uow.members.add(drancy)
        uow.members.add(bobigny)
        uow.sites.add(site, cert_ids=[])
        uow.offers.set(new_id(), site.id, None, OFFER, now)
        host_ids = [uow.hosts.report(site.id, f"tiny-{i}", "test:///default", TINY, Resources(), now, new_id())
                    for i in range(hosts)]
        for offering in offerings.values():
            uow.offerings.add(offering)
        workload_ids = []
        for i, cls in enumerate([HARVEST] * harvest + [GUARANTEED] * guaranteed):
            w = Workload(new_id(), bobigny.id, offerings[cls].id, f"w{i:03}", S.PENDING, DesiredPower.RUNNING,
                         None, "", now, now, cls)
            uow.workloads.add(w)
            workload_ids.append(w.id)
        uow.commit()
    return Queue(site.id, host_ids, workload_ids)


def assert_books_balance(uow_factory: Uows) -> int:
    """No host holds more than it lends, its counters are the sums of its open allocations; returns how
    many workloads are placed."""
    with uow_factory() as uow:
        workloads = uow.workloads.list(include_deleted=True)
        allocations = {w.id: uow.allocations.open_for(w.id) for w in workloads}
        totals = uow.allocations.open_totals_by_host()
    hosts = catalogue.list_hosts(uow_factory(), OPERATOR)  # with the share each lends now
    held: dict[str, Resources] = {}
    guaranteed: dict[str, Resources] = {}
    for a in allocations.values():
        if a is None:
            continue
        held[a.host_id] = held.get(a.host_id, Resources()) + a.resources
        if a.service_class is GUARANTEED:
            guaranteed[a.host_id] = guaranteed.get(a.host_id, Resources()) + a.resources
    for host in hosts:
        mine, mine_guaranteed = held.get(host.id, Resources()), guaranteed.get(host.id, Resources())
        assert host.allocated == mine == totals.get(host.id, Resources()), host.name
        assert host.allocated_guaranteed == mine_guaranteed, host.name
        assert mine.fits_in(host.lendable()), f"{host.name} overbooked: {mine} > {host.lendable()}"
        committed = Resources(*(int(x * OFFER.committed_percent / 100) for x in host.lendable().as_tuple()))
        assert mine_guaranteed.fits_in(committed), f"{host.name}: guaranteed {mine_guaranteed} > {committed}"
    placed = [w for w in workloads if w.state is S.SCHEDULED]
    for w in placed:  # every placed workload holds exactly one allocation, on its host, of its class
        allocation = allocations[w.id]
        assert allocation is not None and allocation.host_id == w.host_id
        assert allocation.service_class is w.service_class
    assert sum(1 for a in allocations.values() if a is not None) == len(placed)
    return len(placed)


def assert_outcomes_make_sense(outcomes: list[PlacementOutcome], workload_ids: list[str]) -> None:
    # Every scheduler walked its view of the queue without an error escaping (f.result() re-raises), and
    # each outcome is one of the expected kinds.
    assert {o.workload_id for o in outcomes} <= set(workload_ids)
    for o in outcomes:
        assert o.placed or o.message == "no longer pending" or o.message.startswith(
            ("no host can take vm-one", "lost 3 races")), o.message
    placed = [o.workload_id for o in outcomes if o.placed]
    assert len(set(placed)) == len(placed)  # nobody placed one twice


def finish_and_check(uow_factory: Uows, placed_by_schedulers: int, room: int, queued: int) -> None:
    assert assert_books_balance(uow_factory) == placed_by_schedulers <= room
    # Races lost up to the retry limit leave workloads pending; one more pass fills what is left.
    place_pending(uow_factory, SETTINGS)
    assert assert_books_balance(uow_factory) == room
    with uow_factory() as uow:
        assert len(uow.workloads.pending(1000)) == queued - room
    # 8 × 10 GiB of 100
    assert all(h.free() == Resources(0, 0, 20) for h in catalogue.list_hosts(uow_factory(), OPERATOR))


@only_postgres
def test_concurrent_schedulers_never_overbook(uow_factory: Uows) -> None:
    # Room for 24, of which at most 12 guaranteed; there are enough harvest workloads to fill the rest.
    queue = build(uow_factory, hosts=3, harvest=26, guaranteed=14)
    schedulers = 4
    start = threading.Barrier(schedulers)

    def scheduler() -> list[PlacementOutcome]:
        start.wait()
        return place_pending(uow_factory, SETTINGS)

    with ThreadPoolExecutor(schedulers) as pool:
        runs = [f.result() for f in [pool.submit(scheduler) for _ in range(schedulers)]]

    outcomes = [o for run in runs for o in run]
    assert {o.workload_id for o in outcomes} == set(queue.workload_ids)
    assert_outcomes_make_sense(outcomes, queue.workload_ids)
    finish_and_check(uow_factory, sum(o.placed for o in outcomes), 24, 40)


@only_postgres
def test_schedulers_racing_while_the_lender_changes_its_offer(uow_factory: Uows) -> None:
    """Offer changes and heartbeats with a new inventory bump the hosts' generations mid-pass: claims
    decided before them fail and are decided again on a fresh snapshot, never applied on stale room."""
    queue = build(uow_factory, hosts=2, harvest=24, guaranteed=6)  # room for 16
    schedulers = 3
    start = threading.Barrier(schedulers + 1)
    done = threading.Event()

    def scheduler() -> list[PlacementOutcome]:
        start.wait()
        try:
            return place_pending(uow_factory, SETTINGS)
        finally:
            done.set()

    def lender() -> int:
        changes = 0
        start.wait()
        while not done.is_set() and changes < 200:
            with uow_factory() as uow:
                uow.offers.set(new_id(), queue.site_id, None, OFFER, utcnow())  # same offer: still a change
                uow.commit()
            changes += 1
        return changes

    with ThreadPoolExecutor(schedulers + 1) as pool:
        churn = pool.submit(lender)
        runs = [f.result() for f in [pool.submit(scheduler) for _ in range(schedulers)]]
        assert churn.result() >= 1
    outcomes = [o for run in runs for o in run]
    assert_outcomes_make_sense(outcomes, queue.workload_ids)
    finish_and_check(uow_factory, sum(o.placed for o in outcomes), 16, 30)


@only_postgres
def test_scheduler_processes_never_overbook(database_url: str, uow_factory: Uows) -> None:
    """Replicas are processes with engines and connection pools of their own."""
    queue = build(uow_factory, hosts=2, harvest=20, guaranteed=10)  # room for 16
    ctx = multiprocessing.get_context("spawn")  # no fork of this process's threads and pooled connections
    processes = 3
    start = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [ctx.Process(target=run_place_pending, args=(database_url, SETTINGS, start, results))
               for _ in range(processes)]
    for p in workers:
        p.start()
    try:
        runs = [results.get(timeout=120) for _ in workers]
    finally:
        for p in workers:
            p.join(timeout=30)
    errors = [run for run in runs if isinstance(run, str)]
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in workers] == [0] * processes
    outcomes = [PlacementOutcome(*o) for run in runs for o in run]
    assert_outcomes_make_sense(outcomes, queue.workload_ids)
    finish_and_check(uow_factory, sum(o.placed for o in outcomes), 16, 30)


@pytest.fixture
def race_after_snapshot(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """Run ``rival`` once, right after the next scheduler has read its snapshot and before it claims."""
    original = placement.load_context

    def arm(rival: Callable[[], None]) -> None:
        fired = False

        def load_context(*args: object, **kwargs: object) -> placement.PlacementContext:
            nonlocal fired
            ctx = original(*args, **kwargs)  # type: ignore[arg-type]
            if not fired:
                fired = True
                rival()
            return ctx

        monkeypatch.setattr(placement, "load_context", load_context)

    return arm


@only_postgres
def test_two_schedulers_picking_different_hosts_for_one_workload(
        uow_factory: Uows, race_after_snapshot: Callable[[Callable[[], None]], None]) -> None:
    """Two replicas may choose different hosts for the same workload; only one placement may stand.

        tiny-0 has not reported for an hour when scheduler B reads its snapshot, so B picks tiny-1;
        then tiny-0's agent reports, and scheduler A places the same workload on tiny-0 and commits;
        then B tries to record its placement on tiny-1: the workload is no longer pending, so B claims
        nothing.
    """
    queue = build(uow_factory, hosts=2, harvest=1)
    (h0, h1), (wid,) = queue.host_ids, queue.workload_ids
    report_tiny_host(uow_factory, queue.site_id, "tiny-0", utcnow() - timedelta(hours=1))

    rival_outcomes: list[PlacementOutcome] = []
    seen: list[Snapshot] = []

    def rival() -> None:
        report_tiny_host(uow_factory, queue.site_id, "tiny-0", utcnow())
        rival_outcomes.extend(place_pending(uow_factory, SETTINGS))

    race_after_snapshot(rival)
    original = planning.schedule  # the planners decide; the services apply

    def schedule(snap: Snapshot, *args: object, **kwargs: object) -> object:
        seen.append(snap)
        return original(snap, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(planning, "schedule", schedule)
        [late] = place_pending(uow_factory, SETTINGS)

    [rival_outcome] = rival_outcomes
    assert rival_outcome.placed and rival_outcome.host_id == h0
    # seen[0] is the rival's decision (it runs inside B's pass); B then decided on its own snapshot, where
    # tiny-0 was silent, before its claim met the change and it re-read the hosts.
    assert seen[0].fresh[seen[0].index_of[h0]] and not seen[1].fresh[seen[1].index_of[h0]]
    assert (late.placed, late.message) == (False, "no longer pending")
    with uow_factory() as uow:
        w = uow.workloads.get(wid)
        assert w is not None and (w.state, w.host_id) == (S.SCHEDULED, h0)
        assert uow.allocations.open_totals_by_host() == {h0: ONE}  # nothing was claimed on tiny-1
        tiny1 = uow.hosts.get(h1)
        assert tiny1 is not None and tiny1.allocated == Resources()
    assert assert_books_balance(uow_factory) == 1
