"""The agent's spool: samples taken while the control plane is down arrive once it is back, exactly once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.agent.runner import Agent
from civicloud.cli.demo import free_port
from civicloud.cli.serve import ThreadedServer
from civicloud.client import ApiClient
from civicloud.errors import Unavailable
from civicloud.settings import Settings
from civicloud.wire import (
    MemberCreate,
    OfferingCreate,
    OfferSet,
    SiteCreate,
    UsageBatch,
    UsageSampleIn,
    WorkloadCreate,
)

pytestmark = pytest.mark.libvirt


class LosesOneAck(httpx.HTTPTransport):
    """Delivers the first usage batch to the control plane, then loses its answer on the way back."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.endswith("/agent/usage") and self.lost == 0:
            response.read()
            self.lost += 1
            raise httpx.ReadError("connection reset before the acknowledgement arrived")
        return response


def test_samples_survive_a_control_plane_outage_exactly_once(tmp_path: Path, node_file) -> None:
    settings = Settings(data_dir=tmp_path / "cp", database_url=None, bind_port=free_port(0), placement_interval_s=0.2)
    (tmp_path / "cp").mkdir()
    server = ThreadedServer(settings)
    server.start()
    api = ApiClient(server.url)
    drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
    bobigny = api.create_member(MemberCreate(name="Bobigny", siren="219300084", category="commune"))
    site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
    api.set_offer(site.id, OfferSet(default_percent=100))
    api.create_offering(OfferingCreate(name="vm.small", vcpus=1, memory_mib=512, disk_gib=0))
    hv1 = LibvirtDriver(node_file("hv1"), "hv1")
    transport = LosesOneAck()
    state = tmp_path / "agent"
    agent = Agent(server.url, state, [hv1], join_token=api.issue_join_token(site.id).token, transport=transport,
                  sample_interval_s=3600)
    agent.tick()
    w = api.create_workload(WorkloadCreate(member_id=bobigny.id, offering_id="vm.small", name="web"))
    deadline = time.monotonic() + 10
    while api.get_workload(w.id).state.value != "running":
        assert time.monotonic() < deadline, "the workload never ran"
        agent.tick()
        time.sleep(0.1)
    produced = 0

    # Online: a first sample goes through the spool; its acknowledgement is lost on the way back.
    produced += agent.sample()
    with pytest.raises(Unavailable):
        agent.flush()
    assert transport.lost == 1 and agent.spool.pending("sample") == 1  # delivered, but not known to be

    # The control plane goes away; the agent keeps sampling into its spool.
    server.stop()
    for _ in range(5):
        produced += agent.sample()
        with pytest.raises(Unavailable):
            agent.tick()
    assert produced == 6 and agent.spool.pending("sample") == 6

    # The agent itself is restarted meanwhile (a new process would open the same spool file).
    agent.close()
    agent = Agent(settings.api_url, state, [LibvirtDriver(node_file("hv1"), "hv1")], sample_interval_s=3600)
    assert agent.spool.pending("sample") == 6

    # The control plane comes back on the same database: the backlog drains, in order, once.
    server = ThreadedServer(settings)
    server.start()
    try:
        agent.tick()
        assert agent.spool.pending() == 0
        stored = ApiClient(server.url).workload_samples(w.id)
        assert len(stored) == produced == len({s.id for s in stored})  # every sample, none twice
        assert all(s.workload_id == w.id and s.vcpus == 1 and s.memory_mib == 512 for s in stored)
        assert sorted(s.sampled_at for s in stored) == [s.sampled_at for s in reversed(stored)]  # newest first
        # Sending the same samples again stores nothing more: ingestion is keyed by the sample id.
        replay = UsageBatch(samples=[UsageSampleIn(
            id=s.id, workload_id=s.workload_id, host_name="hv1", sampled_at=s.sampled_at, vcpus=s.vcpus,
            cpu_time_ns=s.cpu_time_ns, memory_mib=s.memory_mib, memory_used_mib=s.memory_used_mib,
            disk_read_bytes=s.disk_read_bytes, disk_write_bytes=s.disk_write_bytes, net_rx_bytes=s.net_rx_bytes,
            net_tx_bytes=s.net_tx_bytes) for s in stored])
        ack = agent.client.usage(replay)
        assert (ack.accepted, ack.duplicates, ack.rejected) == (0, produced, [])
        assert len(ApiClient(server.url).workload_samples(w.id)) == produced
    finally:
        agent.close()
        server.stop()


def test_the_agent_stops_an_evicted_guest_at_its_deadline_while_the_control_plane_is_down(
        tmp_path: Path, node_file) -> None:
    settings = Settings(data_dir=tmp_path / "cp", database_url=None, bind_port=free_port(0), placement_interval_s=0.2)
    (tmp_path / "cp").mkdir()
    server = ThreadedServer(settings)
    server.start()
    api = ApiClient(server.url)
    drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
    bobigny = api.create_member(MemberCreate(name="Bobigny", siren="219300084", category="commune"))
    site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
    api.set_offer(site.id, OfferSet(default_percent=100, reclaim_notice_s=3))
    api.create_offering(OfferingCreate(name="vm.h", vcpus=1, memory_mib=2048, disk_gib=0))
    hv1 = LibvirtDriver(node_file("hv1", cpus=4, memory_gib=8), "hv1")  # its ERP VM holds 4 GiB
    agent = Agent(server.url, tmp_path / "agent", [hv1], join_token=api.issue_join_token(site.id).token)
    agent.tick()
    w = api.create_workload(WorkloadCreate(member_id=bobigny.id, offering_id="vm.h", name="batch"))

    def tick_until(state: str) -> None:
        deadline = time.monotonic() + 10
        while api.get_workload(w.id).state.value != state:
            assert time.monotonic() < deadline, f"never {state}: {api.get_workload(w.id).message}"
            agent.tick()
            time.sleep(0.1)

    tick_until("running")
    # The owner starts a 3 GiB VM of its own: 7 of 8 GiB are the owner's, the 2 GiB guest must go.
    hv1._connection().defineXML("<domain type='test'><name>owner-gis</name><memory unit='GiB'>3</memory>"
                                "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>").create()
    tick_until("evicting")
    agent.tick()  # the agent learns the deadline with its desired state
    stop_at = api.get_workload(w.id).evict_deadline
    assert stop_at is not None

    server.stop()  # the control plane goes down before the deadline
    assert datetime.now(UTC) < stop_at and {a.workload_id: a.power for a in hv1.domains()}[w.id] == "running"
    while datetime.now(UTC) < stop_at:
        with pytest.raises(Unavailable):
            agent.tick()
        time.sleep(0.05)
    with pytest.raises(Unavailable):
        agent.tick()
    assert {a.workload_id: a.power for a in hv1.domains()}[w.id] == "stopped"  # the promise is kept offline
    assert agent.spool.pending("report") == 1  # and what was done waits to be told

    server = ThreadedServer(settings)
    server.start()
    try:
        agent.tick()
        queued = api.get_workload(w.id)
        assert (queued.state.value, queued.host_id) == ("pending", None)
        agent.tick()
        assert w.id not in {a.workload_id for a in hv1.domains()}  # then removed from the owner's host
        assert api.get_host(api.list_hosts()[0].id).allocated.memory_mib == 0
    finally:
        agent.close()
        server.stop()
