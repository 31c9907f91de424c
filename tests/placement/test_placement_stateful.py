"""Random sequences of requests, deletions, owner load and offer changes never overbook a host.

A hypothesis state machine drives the real services on a real SQLite store. After every step:
- no host holds more than (total − reserved) × ratio, on any resource;
- every host's allocated counters equal the sum of its open allocations;
- a host that received a workload in this step left the owner's reserve and own load free, and
  stayed within what its offer lends now: the committed share for guaranteed work, the share lent
  now for harvest work (harvest work above a share that shrank is for reclaim to evict).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from civicloud.domain import Offer, Resources, ServiceClass, WorkloadState
from civicloud.services import agents, workloads
from civicloud.services.placement import PlacementSettings, place_pending
from civicloud.store import make_engine, upgrade
from civicloud.wire import ObservedWorkload, Report

from civicloud_support import OPERATOR
from placement_scene import Scene

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
SETTINGS = PlacementSettings()


class Federation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        engine = make_engine(f"sqlite:///{Path(self._dir.name) / 'c.db'}")
        upgrade(engine)
        self.engine = engine
        self.scene = Scene.on(engine, at=NOW)
        self.scene.member("Drancy")
        self.scene.member("Bobigny")
        self.scene.site("drancy", "Drancy", Offer(committed_percent=20, default_percent=60))
        for name, cpus in (("hv1", 4), ("hv2", 8)):
            self.scene.host(name, "drancy", vcpus=cpus, memory_mib=8192, disk_gib=100)
        self.scene.offering("small", vcpus=1, memory_mib=1024, disk_gib=10)
        self.scene.offering("big", vcpus=6, memory_mib=3072, disk_gib=30)
        self.scene.offering("steady", vcpus=2, memory_mib=2048, disk_gib=10, service_class=ServiceClass.GUARANTEED)
        self.live: list[str] = []
        self.arrivals = 0

    def teardown(self) -> None:
        self.engine.dispose()
        self._dir.cleanup()

    def _hosts(self):  # type: ignore[no-untyped-def]
        with self.scene.uow_factory() as uow:
            return {h.id: h for h in uow.hosts.list()}

    @rule(offering=st.sampled_from(["small", "big", "steady"]), count=st.integers(1, 4))
    def request(self, offering: str, count: int) -> None:
        before = self._hosts()
        for _ in range(count):
            self.arrivals += 1  # arrival times are distinct, so the order is the same on every replay
            self.live.append(self.scene.workload("Bobigny", offering, at=NOW + timedelta(seconds=self.arrivals)))
        outcomes = place_pending(self.scene.uow_factory, SETTINGS)
        event(f"placed {sum(o.placed for o in outcomes)} of {len(outcomes)} pending")
        after = self._hosts()
        with self.scene.uow_factory() as uow:
            offer_found = uow.offers.get(self.scene.sites["drancy"].id)
        assert offer_found is not None
        offer = offer_found[0]
        share = offer.share_at(NOW, "Europe/Paris", lambda _d: False) / 100
        for host_id, host in after.items():
            was = before[host_id]
            if host.allocated == was.allocated:
                continue
            free_of_owner = host.total - host.reserved - host.owner_used
            assert host.allocated.vcpus <= free_of_owner.vcpus * host.ratios.cpu
            assert host.allocated.memory_mib <= free_of_owner.memory_mib * host.ratios.ram
            lendable = (host.total.vcpus - host.reserved.vcpus) * host.ratios.cpu
            if host.allocated_guaranteed != was.allocated_guaranteed:  # guaranteed work: the committed share
                assert host.allocated_guaranteed.vcpus <= lendable * offer.committed_percent / 100
            if host.allocated - host.allocated_guaranteed != was.allocated - was.allocated_guaranteed:
                assert host.allocated.vcpus <= lendable * share  # harvest: whatever is lent now

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        if not self.live:
            return
        wid = data.draw(st.sampled_from(self.live))
        self.live.remove(wid)
        w = workloads.delete_workload(self.scene.uow_factory(), OPERATOR, wid)
        if w.state is not WorkloadState.DELETED:  # placed: its agent confirms the domain is gone
            agents.report(self.scene.uow_factory(), self.scene.sites["drancy"].id,
                          Report(workloads=[ObservedWorkload(workload_id=wid, observed="absent")]))
        assert self.scene.get(wid).state is WorkloadState.DELETED

    @rule(host=st.sampled_from(["hv1", "hv2"]), vcpus=st.integers(0, 8), memory=st.integers(0, 8192))
    def owner_load(self, host: str, vcpus: int, memory: int) -> None:
        cpus = 4 if host == "hv1" else 8
        self.scene.host(host, "drancy", vcpus=cpus, memory_mib=8192, disk_gib=100,
                        owner=Resources(min(vcpus, cpus), memory))

    @rule(committed=st.integers(0, 50), lent=st.integers(0, 100))
    def offer(self, committed: int, lent: int) -> None:
        with self.scene.uow_factory() as uow:
            uow.offers.set(uow.new_id(), self.scene.sites["drancy"].id, None,
                           Offer(committed_percent=committed, default_percent=lent), NOW)
            uow.commit()

    @invariant()
    def never_overbooked(self) -> None:
        hosts = self._hosts()
        with self.scene.uow_factory() as uow:
            totals = uow.allocations.open_totals_by_host()
        for host_id, host in hosts.items():
            assert host.allocated == totals.get(host_id, Resources())
            capacity = host.total - host.reserved
            assert host.allocated.vcpus <= capacity.vcpus * host.ratios.cpu
            assert host.allocated.memory_mib <= capacity.memory_mib * host.ratios.ram
            assert host.allocated.disk_gib <= capacity.disk_gib * host.ratios.disk


Federation.TestCase.settings = settings(max_examples=25, stateful_step_count=20, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
test_random_requests_never_overbook = Federation.TestCase
