"""Reclaim end to end on libvirt test hypervisors: the owner starts its own VMs, the agents keep the notice.

Two agents run as they do on a site (threads looping every 0.2 s) against the control plane over HTTP.
Drancy's host hv1 runs three 4 GiB harvest workloads and one guaranteed workload of Bobigny. Drancy's own
IT department then starts an 8 GiB VM of its own on hv1, through libvirt: hv1 no longer has room for
everything, so the two newest harvest workloads go `evicting` with the offer's notice. Montreuil's host
joins with room for one of them: that one starts afresh there; the other is stopped by hv1's agent at its
deadline and queued again. The guaranteed workload and the oldest harvest one never stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.agent.runner import Agent
from civicloud.wire import MemberCreate, OfferingCreate, OfferSet, SiteCreate, WorkloadCreate, WorkloadOut

pytestmark = pytest.mark.libvirt
NOTICE_S = 6


def until(what: str, check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running(agent: Agent) -> Iterator[Agent]:
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(0.2, stop), daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        stop.set()
        thread.join(10)
        agent.close()


def owner_starts_a_vm(driver: LibvirtDriver, name: str, memory_gib: int) -> None:
    """What a lender's IT department does on its own host: an ordinary libvirt domain, no civicloud metadata."""
    conn = driver._connection()
    dom = conn.defineXML(f"<domain type='test'><name>{name}</name><memory unit='GiB'>{memory_gib}</memory>"
                         "<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
    dom.create()


def test_owner_takes_its_host_back_with_notice(live_region, node_file, tmp_path: Path) -> None:
    api = live_region.api
    api.set_offer(live_region.site_id, OfferSet(committed_percent=25, default_percent=100, reclaim_notice_s=NOTICE_S))
    api.create_offering(OfferingCreate(name="vm.h", vcpus=1, memory_mib=4096, disk_gib=0))
    api.create_offering(OfferingCreate(name="vm.g", vcpus=1, memory_mib=2048, disk_gib=0,
                                       service_class="guaranteed"))
    montreuil = api.create_member(MemberCreate(name="Montreuil", siren="219300480", category="commune"))
    mt_site = api.create_site(SiteCreate(member_id=montreuil.id, name="montreuil", insee_code="93048"))
    api.set_offer(mt_site.id, OfferSet(default_percent=100))

    # hv1: 20 GiB, of which the owner's ERP VM (in the node file) uses 4: 16 GiB of headroom.
    hv1 = LibvirtDriver(node_file("hv1", cpus=8, memory_gib=20), "hv1")
    with running(Agent(api.base_url, tmp_path / "drancy", [hv1], join_token=live_region.join_token())):
        ids: dict[str, str] = {}
        for name, offering in [("oldest", "vm.h"), ("middle", "vm.h"), ("newest", "vm.h"), ("safe", "vm.g")]:
            ids[name] = api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id=offering,
                                                           name=name)).id
        until("four workloads running on hv1",
              lambda: all(api.get_workload(i).state.value == "running" for i in ids.values()))
        hv1_id = api.get_workload(ids["safe"]).host_id

        # Drancy's IT starts an 8 GiB VM: 12 GiB of owner load leaves 8 GiB for 14 GiB allocated.
        started = datetime.now(UTC)
        owner_starts_a_vm(hv1, "drancy-payroll", 8)
        # Both are marked in one transaction; read one by one, the first read may come just before it.
        evicting = until("two evictions", lambda: len(found := [w for w in (api.get_workload(i) for i in ids.values())
                                                                if w.state.value == "evicting"]) >= 2 and found)
        assert sorted(w.name for w in evicting) == ["middle", "newest"]  # fewest that free enough, newest first
        for w in evicting:
            assert w.evict_deadline is not None
            assert started + timedelta(seconds=NOTICE_S) <= w.evict_deadline <= \
                datetime.now(UTC) + timedelta(seconds=NOTICE_S)
        deadline = min(w.evict_deadline for w in evicting if w.evict_deadline)

        # Montreuil's host joins, with room for one 4 GiB workload (8 GiB, its ERP VM holds 4).
        hv2 = LibvirtDriver(node_file("hv2", cpus=4, memory_gib=8), "hv2")
        with running(Agent(api.base_url, tmp_path / "montreuil", [hv2], join_token=api.issue_join_token(
                mt_site.id).token)):
            moved: WorkloadOut = until("one re-placed and running on hv2", lambda: next(
                (w for w in (api.get_workload(ids[n]) for n in ("middle", "newest"))
                 if w.state.value == "running" and w.host_id != hv1_id), None))  # type: ignore[assignment]
            assert datetime.now(UTC) < deadline, "re-placement must happen within the notice for this test"
            assert [a.workload_id for a in hv2.domains()] == [moved.id]
            until("the moved workload gone from hv1", lambda: moved.id not in {a.workload_id for a in hv1.domains()})
            left = ids["middle"] if moved.id == ids["newest"] else ids["newest"]
            # The other keeps running on hv1 until its deadline…
            assert {a.workload_id: a.power for a in hv1.domains()}[left] == "running"
            assert api.get_workload(left).state.value == "evicting"
            queued = until("the other stopped at its deadline and queued",
                           lambda: (w := api.get_workload(left)).state.value == "pending" and w)
            assert queued.updated_at >= deadline  # not a moment before the promised notice
            assert queued.updated_at <= deadline + timedelta(seconds=3)  # and promptly after it
            until("its domain removed from hv1", lambda: left not in {a.workload_id for a in hv1.domains()})

        # The guaranteed workload and the oldest harvest one never stopped.
        for name in ("safe", "oldest"):
            w = api.get_workload(ids[name])
            assert (w.state.value, w.host_id) == ("running", hv1_id)
        host = api.get_host(hv1_id)
        assert (host.allocated.vcpus, host.allocated.memory_mib) == (2, 6144)
        assert host.owner_used.memory_mib == 12288
        # No host has room for the queued one now: it waits, and says why.
        waiting = until("the queued workload explained", lambda: (w := api.get_workload(left)).placement and w)
        assert waiting.state.value == "pending" and "no host can take vm.h now" in waiting.message
