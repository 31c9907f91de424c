"""An agent process killed with SIGKILL and started again converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from civicloud.wire import WorkloadCreate

pytestmark = [pytest.mark.slow, pytest.mark.libvirt]


def start_agent(url: str, state: Path, host_uri: str, token: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    if token:
        env["CIVICLOUD_JOIN_TOKEN"] = token
    log = open(state.parent / f"{state.name}.log", "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "civicloud", "agent", "--server", url, "--state-dir", str(state),
                             "--interval", "0.2", "--host", f"hv1={host_uri}"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkilled_agent_converges_on_restart(live_region, live_server, node_file, tmp_path: Path) -> None:
    api = live_region.api
    uri = node_file("hv1")
    state = tmp_path / "agent"
    agent = start_agent(live_server.url, state, uri, live_region.join_token())
    try:
        wait_for(lambda: api.list_hosts(), what="the host to be reported")
        w = api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small", name="web"))
        wait_for(lambda: api.get_workload(w.id).state.value == "running", what="running")
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)

        # Restart without a join token: the saved credential is enough. The test hypervisor lived in the
        # killed process, so the new agent finds no domain and must define exactly one again.
        agent = start_agent(live_server.url, state, uri)
        host_id = api.get_workload(w.id).host_id
        seen_before = api.get_host(host_id).last_seen_at
        wait_for(lambda: api.get_host(host_id).last_seen_at != seen_before, what="a heartbeat after restart")
        time.sleep(1.0)  # several passes of the restarted agent
        workload = api.get_workload(w.id)
        assert workload.state.value == "running", workload.message
        assert workload.host_id == host_id
        host = api.get_host(host_id)
        assert host.allocated.vcpus == 1  # neither leaked nor doubled
        assert len(api.list_workloads()) == 1
        assert agent.poll() is None, "the restarted agent must keep running"
    finally:
        agent.terminate()
        agent.wait(10)
    log = (tmp_path / "agent.log").read_text()
    assert "Traceback" not in log, log
