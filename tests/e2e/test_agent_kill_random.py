"""The agent SIGKILLed at random points of provisioning, 20 times: it converges every time.

libvirtd keeps its own instance of libvirt's test hypervisor (``test+unix:///default``): unlike the
in-process ``test:///default`` it outlives the agent's process, so what a killed agent left behind —
a domain defined but not started, started but not reported — is still there for the next agent to find.
After each restart: one domain per live workload, none for deleted ones, and every host's
allocations equal to what its live workloads hold.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.wire import WorkloadCreate

pytestmark = [pytest.mark.realvm, pytest.mark.slow]
URI = "test+unix:///default"
RUNS = 20


@pytest.fixture
def daemon_hypervisor() -> LibvirtDriver:
    try:
        driver = LibvirtDriver(URI, "hv1")
    except Exception as exc:  # noqa: BLE001 - any failure here means no libvirtd
        if os.environ.get("CI") == "true":
            pytest.fail(f"libvirtd must answer in CI: {exc}", pytrace=False)
        pytest.skip(f"libvirtd is not running ({exc}); run: sudo scripts/libvirtd.sh")
    for actual in driver.domains():  # leftovers of an earlier run: not this test's
        driver.undefine(actual.workload_id)
    yield driver
    for actual in driver.domains():
        driver.undefine(actual.workload_id)
    driver.close()


def start_agent(url: str, state: Path, token: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **({"CIVICLOUD_JOIN_TOKEN": token} if token else {})}
    log = open(state.parent / "agent.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "civicloud", "agent", "--server", url, "--state-dir", str(state),
                             "--interval", "0.1", "--host", f"hv1={URI}"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def settled(api, ids: list[str]) -> bool:  # type: ignore[no-untyped-def]
    states = {api.get_workload(w).state.value for w in ids}
    return states <= {"running", "deleted"}


def test_random_sigkills_leave_no_orphan_and_no_leak(live_region, live_server, daemon_hypervisor,
                                                     tmp_path: Path) -> None:
    api = live_region.api
    from civicloud.wire import OfferingCreate

    # libvirt's test host has 3 GiB, 2 of them used by its own "test" domain: tiny guests all fit.
    api.create_offering(OfferingCreate(name="vm.mini", vcpus=1, memory_mib=16, disk_gib=0))
    rng = random.Random(2026)
    state = tmp_path / "agent"
    agent = start_agent(live_server.url, state, live_region.join_token())
    live: list[str] = []
    deleted: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while not api.list_hosts() and time.monotonic() < deadline:
            time.sleep(0.05)  # the first agent's first heartbeat
        for run in range(RUNS):
            # Some new work and some removals, then a kill somewhere in the middle of carrying them out.
            for _ in range(rng.randint(1, 3)):
                w = api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.mini", name=f"r{run}-{_}"))
                live.append(w.id)
            if live and rng.random() < 0.5:
                gone = live.pop(rng.randrange(len(live)))
                api.delete_workload(gone)
                deleted.append(gone)
            time.sleep(rng.uniform(0.0, 0.4))
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
            agent = start_agent(live_server.url, state, None)
            deadline = time.monotonic() + 30
            while not settled(api, live + deleted) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert settled(api, live + deleted), [(w.state.value, w.message)
                                                  for w in map(api.get_workload, live + deleted)
                                                  if w.state.value not in ("running", "deleted")]

            domains = daemon_hypervisor.domains()
            ids = sorted(a.workload_id for a in domains)
            assert ids == sorted(live), f"run {run}: domains {ids} for live workloads {sorted(live)}"
            assert all(a.power == "running" for a in domains)
            assert all(api.get_workload(w).state.value == "deleted" for w in deleted)
            host = api.list_hosts()[0]
            assert host.allocated.vcpus == len(live) and host.allocated.memory_mib == 16 * len(live)
    finally:
        agent.terminate()
        agent.wait(10)
    assert "Traceback" not in (tmp_path / "agent.log").read_text()
