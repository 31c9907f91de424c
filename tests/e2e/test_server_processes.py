"""`civicloud server`: the control loop in a process of its own, the API in several worker processes, a commit in
a worker waking the loop at once (LISTEN/NOTIFY on PostgreSQL, a Unix socket on SQLite), and one SIGTERM
stopping everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from civicloud.cli.demo import free_port
from civicloud.client import ApiClient
from civicloud.wire import MemberCreate, OfferingCreate, OfferSet, SiteCreate, WorkloadCreate

from test_agent_kill import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.libvirt]


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("fresh_postgres_db") if request.param == "postgres" else None


def test_server_runs_the_loop_apart_and_stops_whole(database: str | None, node_file, tmp_path: Path) -> None:
    port = free_port(0)
    env = {**os.environ, "CIVICLOUD_PLACEMENT_INTERVAL_S": "3600",  # only a wake-up can place within the test
           "CIVICLOUD_API_WORKERS": "2"}
    env.pop("CIVICLOUD_API_TOKEN", None)
    if database:
        env["CIVICLOUD_DATABASE_URL"] = database
    else:
        env.pop("CIVICLOUD_DATABASE_URL", None)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "civicloud", "server", "--migrate", "--port", str(port),
                               "--data-dir", str(tmp_path / "data")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    agent = None
    try:
        wait_for(lambda: _up(url), timeout=60, what="the server to answer")
        children = _children(server.pid)
        assert len(children) >= 3, children  # the control loop and two API workers (and multiprocessing's tracker)
        with ApiClient(url) as api:
            drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
            bobigny = api.create_member(MemberCreate(name="Bobigny", siren="219300084", category="commune"))
            site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
            api.set_offer(site.id, OfferSet(default_percent=100))
            api.create_offering(OfferingCreate(name="vm.small", vcpus=1, memory_mib=512, disk_gib=0))
            agent = subprocess.Popen([sys.executable, "-m", "civicloud", "agent", "--server", url,
                                      "--state-dir", str(tmp_path / "agent"), "--interval", "0.3",
                                      "--host", f"hv1={node_file('hv1')}"],
                                     env={**env, "CIVICLOUD_JOIN_TOKEN": api.issue_join_token(site.id).token},
                                     stdout=open(tmp_path / "agent.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
            wait_for(lambda: api.list_hosts(), timeout=30, what="the host to be reported")
            asked = time.monotonic()
            w = api.create_workload(WorkloadCreate(member_id=bobigny.id, offering_id="vm.small", name="web"))
            placed = wait_for(lambda: api.get_workload(w.id).host_id, timeout=20, what="placement, woken")
            assert time.monotonic() - asked < 20  # far sooner than the loop's hour-long interval
            wait_for(lambda: api.get_workload(w.id).state.value == "running", timeout=30, what="running")
            assert placed == api.get_workload(w.id).host_id
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        children = _children(server.pid)
        server.send_signal(signal.SIGTERM)
        rc = server.wait(40)
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert rc == 0, text
    deadline = time.monotonic() + 10
    while (left := [pid for pid in children if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the server outlived it: {[_cmdline(pid) for pid in left]}"
    assert "Traceback" not in text, text
    assert not (tmp_path / "data" / "control-loop.sock").exists()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "gone"


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
