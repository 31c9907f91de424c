"""Several schedulers on one PostgreSQL never overbook a host (the claim's compare-and-swap holds).

SQLite takes its write lock at BEGIN (one writer at a time), so these races
only exist on PostgreSQL, where several control-plane replicas share a database.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from civicloud.domain import Host, Member, MemberCategory, Offering, Resources, ServiceClass, Site, WorkloadState
from civicloud.services.placement import PlacementOutcome, place_pending, place_workload
from civicloud.store import UnitOfWork
from civicloud.store.repositories import HostRepository
from civicloud.store.tables import utcnow
from civicloud_support import SIREN_BOBIGNY, SIREN_DRANCY
from store_scene import make_workload, new_id

Uows = Callable[[], UnitOfWork]
S = WorkloadState
STALE_AFTER = timedelta(seconds=60)
ONE = Resources(1, 1024, 10)

only_postgres = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


@dataclass(frozen=True)
class Queue:
    site_id: str
    host_ids: list[str]
    workload_ids: list[str]


TINY = Resources(2, 8192, 100)


def report_tiny_host(uow_factory: Uows, site_id: str, name: str, seen_at: datetime) -> None:
    with uow_factory() as uow:
        uow.hosts.report(site_id, name, "test:///default", TINY, seen_at, new_id())
        uow.commit()


def build(uow_factory: Uows, *, hosts: int, workloads: int) -> Queue:
    """
        member Drancy ── site drancy-mairie, offer 100 %
                           └─ hosts tiny-0 … tiny-<hosts-1>: 2 vCPU (× 4 = 8 lendable), 8192 MiB, 100 GiB
                              each takes exactly 8 workloads of 1 vCPU / 1024 MiB / 10 GiB
        member Bobigny: <workloads> pending workloads of that size, all created at once
    """
    now = utcnow()
    drancy = Member(new_id(), "Drancy", SIREN_DRANCY, None, MemberCategory.COMMUNE, now)
    bobigny = Member(new_id(), "Bobigny", SIREN_BOBIGNY, None, MemberCategory.COMMUNE, now)
    site = Site(new_id(), drancy.id, "drancy-mairie", "93029", "Europe/Paris", (), now)
    one = Offering(new_id(), "vm-one", "", ONE, ServiceClass.HARVEST)
    with uow_factory() as uow:
        uow.members.add(drancy)
        uow.members.add(bobigny)
        uow.sites.add(site, cert_ids=[])
        uow.sites.set_offer(site.id, 100.0, now)
        host_ids = [uow.hosts.report(site.id, f"tiny-{i}", "test:///default", TINY, now, new_id())
                    for i in range(hosts)]
        uow.offerings.add(one)
        workload_ids = []
        for i in range(workloads):
            w = make_workload(bobigny.id, one.id, f"w{i:03}", created_at=now)
            uow.workloads.add(w)
            workload_ids.append(w.id)
        uow.commit()
    return Queue(site.id, host_ids, workload_ids)


def assert_books_balance(uow_factory: Uows) -> int:
    """No host holds more than it lends, and its counters are the sum of its open allocations."""
    with uow_factory() as uow:
        totals = uow.allocations.open_totals_by_host()
        hosts = uow.hosts.list()
        placed = [w for w in uow.workloads.list() if w.state is S.SCHEDULED]
        allocations = {w.id: uow.allocations.open_for(w.id) for w in uow.workloads.list(include_deleted=True)}
    for host in hosts:
        held = totals.get(host.id, Resources())
        assert host.allocated == held, host.name
        assert held.fits_in(host.lendable()), f"{host.name} overbooked: {held} > {host.lendable()}"
    for w in placed:  # every placed workload holds exactly the allocation on its host
        allocation = allocations[w.id]
        assert allocation is not None and allocation.host_id == w.host_id
    assert sum(1 for a in allocations.values() if a is not None) == len(placed)
    return len(placed)


@only_postgres
def test_concurrent_schedulers_never_overbook(uow_factory: Uows) -> None:
    workload_ids = build(uow_factory, hosts=3, workloads=40).workload_ids  # room for 24
    schedulers = 4
    start = threading.Barrier(schedulers)

    def scheduler() -> list[PlacementOutcome]:
        start.wait()
        return place_pending(uow_factory, stale_after=STALE_AFTER, retries=3)

    with ThreadPoolExecutor(schedulers) as pool:
        runs = [f.result() for f in [pool.submit(scheduler) for _ in range(schedulers)]]

    # Every scheduler walked its view of the queue without an error escaping (f.result() re-raises),
    # and each outcome is one of the expected kinds.
    outcomes = [o for run in runs for o in run]
    assert {o.workload_id for o in outcomes} == set(workload_ids)
    for o in outcomes:
        assert o.placed or o.message == "no longer pending" or o.message.startswith(
            ("no host fits vm-one now", "placement lost 3 races")), o.message
    placed_claims = [o for o in outcomes if o.placed]
    assert len({o.workload_id for o in placed_claims}) == len(placed_claims)  # nobody placed one twice
    assert assert_books_balance(uow_factory) == len(placed_claims) <= 24

    # Races lost up to the retry limit leave workloads pending; one more pass fills what is left.
    place_pending(uow_factory, stale_after=STALE_AFTER, retries=3)
    assert assert_books_balance(uow_factory) == 24
    with uow_factory() as uow:
        assert len(uow.workloads.pending(100)) == 16
        assert all(h.free() == Resources(0, 0, 20) for h in uow.hosts.list())  # 8 × 10 GiB of 100


@only_postgres
def test_schedulers_on_different_workloads_race_for_the_same_hosts(uow_factory: Uows) -> None:
    """Each scheduler walks the queue in its own order, so they claim the same hosts for different workloads."""
    workload_ids = build(uow_factory, hosts=2, workloads=30).workload_ids  # room for 16
    schedulers = 4
    start = threading.Barrier(schedulers)

    def scheduler(seed: int) -> list[PlacementOutcome]:
        order = random.Random(seed).sample(workload_ids, len(workload_ids))
        start.wait()
        return [place_workload(uow_factory, wid, stale_after=STALE_AFTER, retries=3) for wid in order]

    with ThreadPoolExecutor(schedulers) as pool:
        runs = [f.result() for f in [pool.submit(scheduler, seed) for seed in range(schedulers)]]

    placed = [o.workload_id for run in runs for o in run if o.placed]
    assert len(set(placed)) == len(placed)
    assert assert_books_balance(uow_factory) == len(placed) <= 16


@pytest.fixture
def race_on_snapshot(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """Run ``rival`` once, right after the next scheduler has read its snapshot and before it claims."""
    original = HostRepository.snapshot

    def arm(rival: Callable[[], None]) -> None:
        fired = False

        def snapshot(self: HostRepository) -> list[Host]:
            nonlocal fired
            hosts = original(self)
            if not fired:
                fired = True
                rival()
            return hosts

        monkeypatch.setattr(HostRepository, "snapshot", snapshot)

    return arm


@only_postgres
def test_two_schedulers_picking_different_hosts_for_one_workload(
        uow_factory: Uows, race_on_snapshot: Callable[[Callable[[], None]], None]) -> None:
    """Two replicas may choose different hosts for the same workload; only one placement may stand.

        tiny-0 has not reported for an hour when scheduler B reads its snapshot, so B picks tiny-1;
        then tiny-0's agent reports, and scheduler A places the same workload on tiny-0 and commits;
        then B claims tiny-1 (its generation did not change) and tries to record its placement.
    """
    queue = build(uow_factory, hosts=2, workloads=1)
    (h0, h1), (wid,) = queue.host_ids, queue.workload_ids
    report_tiny_host(uow_factory, queue.site_id, "tiny-0", utcnow() - timedelta(hours=1))

    rival_outcome: list[PlacementOutcome] = []

    def rival() -> None:
        report_tiny_host(uow_factory, queue.site_id, "tiny-0", utcnow())
        rival_outcome.append(place_workload(uow_factory, wid, stale_after=STALE_AFTER, retries=3))

    race_on_snapshot(rival)
    late = place_workload(uow_factory, wid, stale_after=STALE_AFTER, retries=3)

    assert rival_outcome[0].placed and rival_outcome[0].host_id == h0
    assert not late.placed
    with uow_factory() as uow:
        w = uow.workloads.get(wid)
        assert w is not None and (w.state, w.host_id) == (S.SCHEDULED, h0)
        assert uow.allocations.open_totals_by_host() == {h0: ONE}  # tiny-1's claim was rolled back
    assert assert_books_balance(uow_factory) == 1
