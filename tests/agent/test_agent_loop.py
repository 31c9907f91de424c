"""The agent against a real control plane (HTTP on loopback) and libvirt test hypervisors."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.agent.reconcile import Define
from civicloud.agent.runner import Agent
from civicloud.client import ApiError
from civicloud.errors import Unauthorized
from civicloud.wire import UsageSampleIn, WorkloadCreate, WorkloadOut

pytestmark = pytest.mark.libvirt


def wait_state(live_region, workload_id: str, state: str, agent: Agent | None = None,
               timeout: float = 10) -> WorkloadOut:
    deadline = time.monotonic() + timeout
    while True:
        if agent is not None:
            agent.tick()
        w = live_region.api.get_workload(workload_id)
        if w.state.value == state:
            return w
        if time.monotonic() > deadline:
            raise AssertionError(f"workload stayed {w.state.value} ({w.message}), expected {state}")
        time.sleep(0.1)


def test_workload_lifecycle_through_the_agent(live_region, node_file, tmp_path: Path) -> None:
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    agent = Agent(live_region.api.base_url, tmp_path / "agent", [driver], join_token=live_region.join_token())
    agent.tick()  # join + first heartbeat: the host exists now
    host = live_region.api.list_hosts()[0]
    assert (host.name, host.total.vcpus) == ("hv1", 8)

    w = live_region.api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small",
                                                       name="web"))
    w = wait_state(live_region, w.id, "running", agent)
    assert w.host_id == host.id
    assert [(a.workload_id, a.power) for a in driver.domains()] == [(w.id, "running")]
    assert live_region.api.get_host(host.id).allocated.vcpus == 1

    live_region.api.stop_workload(w.id)
    wait_state(live_region, w.id, "stopped", agent)
    assert [a.power for a in driver.domains()] == ["stopped"]

    live_region.api.start_workload(w.id)
    wait_state(live_region, w.id, "running", agent)

    live_region.api.delete_workload(w.id)
    wait_state(live_region, w.id, "deleted", agent)
    assert driver.domains() == []
    assert live_region.api.get_host(host.id).allocated.vcpus == 0
    # the owner's own VM was never touched
    assert [d.name() for d in driver._conn.listAllDomains()] == ["hv1-owner-erp"]


def test_restarted_agent_adopts_its_domains_without_duplicates(live_region, node_file, tmp_path: Path) -> None:
    """A new agent on the same hypervisor (as after a crash) finds the domain and leaves it be."""
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    state_dir = tmp_path / "agent"
    first = Agent(live_region.api.base_url, state_dir, [driver], join_token=live_region.join_token())
    first.tick()
    w = live_region.api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small",
                                                       name="web"))
    w = wait_state(live_region, w.id, "running", first)

    second = Agent(live_region.api.base_url, state_dir, [driver])  # no join token: the saved credential serves
    result = second.tick()
    assert not any(isinstance(a, Define) for a in result.actions)
    assert [(a.workload_id, a.power) for a in driver.domains()] == [(w.id, "running")]
    assert live_region.api.get_workload(w.id).state.value == "running"
    assert w.host_id is not None and live_region.api.get_host(w.host_id).allocated.vcpus == 1


def test_orphan_civicloud_domain_is_removed(live_region, node_file, tmp_path: Path) -> None:
    from civicloud.agent.reconcile import Desired

    driver = LibvirtDriver(node_file("hv1"), "hv1")
    driver.define(Desired("00000000-0000-4000-8000-000000000001", "stale", "hv1", "running"))
    agent = Agent(live_region.api.base_url, tmp_path / "agent", [driver], join_token=live_region.join_token())
    agent.tick()
    assert driver.domains() == []


def test_join_token_is_single_use_and_required(live_region, node_file, tmp_path: Path) -> None:
    token = live_region.join_token()
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    Agent(live_region.api.base_url, tmp_path / "a1", [driver], join_token=token)
    with pytest.raises(ApiError) as err:
        Agent(live_region.api.base_url, tmp_path / "a2", [driver], join_token=token)
    assert (err.value.status, err.value.code) == (401, "civicloud.agent.invalid_join_token")
    with pytest.raises(Unauthorized):
        Agent(live_region.api.base_url, tmp_path / "a3", [driver])


def test_credential_file_is_private(live_region, node_file, tmp_path: Path) -> None:
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    Agent(live_region.api.base_url, tmp_path / "agent", [driver], join_token=live_region.join_token())
    assert (tmp_path / "agent" / "credential.json").stat().st_mode & 0o777 == 0o600


def test_agent_survives_an_unreachable_control_plane(node_file, tmp_path: Path) -> None:
    """With the control plane gone, a pass raises Unavailable and changes nothing on the host."""
    import json

    from civicloud.errors import Unavailable

    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "credential.json").write_text(json.dumps(
        {"server": "http://127.0.0.1:9", "site_id": "s", "credential": "cvs_x"}))
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    agent = Agent("http://127.0.0.1:9", tmp_path / "agent", [driver])
    with pytest.raises(Unavailable):
        agent.tick()
    assert [d.name() for d in driver._conn.listAllDomains()] == ["hv1-owner-erp"]


def test_one_broken_host_does_not_silence_the_others(live_region, node_file, tmp_path: Path) -> None:
    """A host whose libvirt fails is skipped this pass; the other host is still reported and reconciled."""
    from civicloud.agent.drivers import DriverError

    good = LibvirtDriver(node_file("hv1"), "hv1")
    bad = LibvirtDriver(node_file("hv2"), "hv2")

    def broken(*_a: object) -> None:
        raise DriverError("libvirtd went away")

    agent = Agent(live_region.api.base_url, tmp_path / "agent", [good, bad], join_token=live_region.join_token())
    agent.tick()
    bad.inventory = broken  # type: ignore[method-assign]
    bad.domains = broken  # type: ignore[method-assign]
    before = {h.name: h.last_seen_at for h in live_region.api.list_hosts()}
    agent.tick()
    after = {h.name: h.last_seen_at for h in live_region.api.list_hosts()}
    assert after["hv1"] != before["hv1"] and after["hv2"] == before["hv2"]


def one_running_workload(live_region, node_file, tmp_path: Path) -> tuple[LibvirtDriver, Agent, WorkloadOut]:
    """hv1 with its agent, and Bobigny's vm.small "web" running on it."""
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    agent = Agent(live_region.api.base_url, tmp_path / "agent", [driver], join_token=live_region.join_token())
    agent.tick()
    w = live_region.api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small",
                                                       name="web"))
    return driver, agent, wait_state(live_region, w.id, "running", agent)


def test_resize_reaches_the_domain_before_it_starts_again(live_region, node_file, tmp_path: Path) -> None:
    from civicloud.wire import OfferingCreate

    live_region.api.create_offering(OfferingCreate(name="vm.large", vcpus=2, memory_mib=1024, disk_gib=0))
    driver, agent, w = one_running_workload(live_region, node_file, tmp_path)
    live_region.api.stop_workload(w.id)
    wait_state(live_region, w.id, "stopped", agent)

    resized = live_region.api.resize_workload(w.id, "vm.large")
    assert resized.state.value == "stopped"
    agent.tick()  # the agent resizes the stopped domain at once
    dom = driver._conn.lookupByName(f"civicloud-{w.id}")
    _state, max_kib, _mem, vcpus, _cpu = dom.info()
    assert (vcpus, max_kib // 1024) == (2, 1024)
    assert [a.size for a in driver.domains()] == [(2, 1024, 0)]

    live_region.api.start_workload(w.id)
    wait_state(live_region, w.id, "running", agent)
    assert dom.info()[3] == 2 and dom.isActive()
    # Its samples carry the new size.
    assert agent.sample() == 1
    agent.flush()
    assert [(s.vcpus, s.memory_mib) for s in live_region.api.workload_samples(w.id)] == [(2, 1024)]


def test_reboot_power_cycles_the_domain_once(live_region, node_file, tmp_path: Path) -> None:
    driver, agent, w = one_running_workload(live_region, node_file, tmp_path)
    dom = driver._conn.lookupByName(f"civicloud-{w.id}")
    calls: list[str] = []
    for verb in ("stop", "start"):  # count what reaches the real driver (the test hypervisor reuses domain ids)
        real = getattr(driver, verb)
        setattr(driver, verb, lambda wid, real=real, verb=verb: (calls.append(verb), real(wid))[1])

    live_region.api.reboot_workload(w.id)
    agent.tick()
    assert calls == ["stop", "start"] and dom.isActive()
    agent.tick()
    assert calls == ["stop", "start"]  # once: the request is done
    # A restarted agent (same state directory) does not reboot it again.
    agent.close()
    again = Agent(live_region.api.base_url, tmp_path / "agent", [LibvirtDriver(node_file("hv1"), "hv1")])
    assert again.spool.rebooted()[w.id] == live_region.api.get_workload(w.id).reboot_requested_at
    again.close()

    live_region.api.stop_workload(w.id)
    with pytest.raises(ApiError) as refused:
        live_region.api.reboot_workload(w.id)
    assert refused.value.code == "civicloud.workload.not_running"


def test_a_refused_sample_is_acknowledged_and_dropped(live_region, node_file, tmp_path: Path, caplog) -> None:
    """The control plane refuses an impossible sample for good: the agent forgets it instead of retrying it at
    every pass, and its real samples (the test driver's, counted from the domain's start) are stored."""
    _driver, agent, w = one_running_workload(live_region, node_file, tmp_path)
    # Taken a second ago: the agent's real sample, taken now, comes after it.
    impossible = UsageSampleIn(id=str(uuid.uuid4()), workload_id=w.id, host_name="hv1",
                               sampled_at=datetime.now(UTC) - timedelta(seconds=1),
                               vcpus=100_000, cpu_time_ns=2**63 - 1, memory_mib=512, disk_read_bytes=0,
                               disk_write_bytes=0, net_rx_bytes=0, net_tx_bytes=0)
    agent.spool.put("sample", [(impossible.id, impossible.model_dump(mode="json"))])
    assert agent.sample() == 1
    with caplog.at_level(logging.WARNING, logger="civicloud.agent.runner"):
        assert agent.flush() >= 2
    assert agent.spool.pending("sample") == 0
    assert f"sample {impossible.id} refused (civicloud.sample.vcpus_over_allocation)" in caplog.text
    stored = live_region.api.workload_samples(w.id)
    assert stored and impossible.id not in {s.id for s in stored}
    assert all(s.vcpus == 1 and 0 <= s.cpu_time_ns < 60 * 10**9 for s in stored)  # since start, not since 1970
    agent.flush()  # nothing left to send
    assert agent.spool.pending() == 0
