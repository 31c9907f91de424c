"""Eight clients writing at once to a real `civicloud server` (two API workers and the control loop, on
PostgreSQL): every change the API accepted (and every one it refused) has exactly its audit entry, with the
status it answered and the object it named, the chain has no gap, and `civicloud audit verify` passes."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from civicloud.cli.demo import free_port
from civicloud.clock import random_ids
from civicloud.domain.identity import Principal, Role
from civicloud.services.audit import verify
from civicloud.store import SqlUnitOfWork, make_engine

from test_agent_kill import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WRITERS, ROUNDS = 8, 12
PREFIX = "/api/v1"


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _writer(base: str, member_id: str, n: int, accepted: list[tuple[str, str, int]], refused: list[int],
            lock: threading.Lock) -> None:
    """Creates, tries to stop (refused: nothing placed it), deletes, and asks for an unknown offering."""
    with httpx.Client(base_url=base, timeout=60) as http:
        for i in range(ROUNDS):
            done: list[tuple[str, str, int]] = []
            r = http.post("/workloads", json={"member_id": member_id, "offering_id": "vm.small",
                                              "name": f"w{n}-{i}"},
                          headers={"Idempotency-Key": random_ids()} if i % 3 == 0 else {})
            assert r.status_code == 202, r.text
            wid = r.json()["id"]
            done.append((f"POST {PREFIX}/workloads", wid, r.status_code))
            stop = http.post(f"/workloads/{wid}/stop")  # pending (no host here): refused, and audited
            assert stop.status_code == 409, stop.text
            done.append((f"POST {PREFIX}/workloads/{{workload_id}}/stop", wid, stop.status_code))
            delete = http.delete(f"/workloads/{wid}")
            assert delete.status_code == 202, delete.text
            done.append((f"DELETE {PREFIX}/workloads/{{workload_id}}", wid, delete.status_code))
            bad = http.post("/workloads", json={"member_id": member_id, "offering_id": "no-such-offering",
                                                "name": f"bad{n}-{i}"})
            with lock:
                accepted.extend(done)
                refused.append(bad.status_code)


def test_eight_writers_every_accepted_change_is_audited(fresh_postgres_db: str, tmp_path: Path) -> None:
    port = free_port(0)
    env = {**os.environ, "CIVICLOUD_DATABASE_URL": fresh_postgres_db, "CIVICLOUD_API_WORKERS": "2"}
    env.pop("CIVICLOUD_API_TOKEN", None)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "civicloud", "server", "--migrate", "--port", str(port),
                               "--data-dir", str(tmp_path / "data")], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}{PREFIX}"
    accepted: list[tuple[str, str, int]] = []
    refused: list[int] = []
    try:
        wait_for(lambda: _up(base), timeout=60, what="the server to answer")
        with httpx.Client(base_url=base, timeout=30) as http:
            member = http.post("/members", json={"name": "Bobigny", "siren": "219300084", "category": "commune"})
            assert member.status_code == 201, member.text
            offering = http.post("/offerings", json={"name": "vm.small", "vcpus": 1, "memory_mib": 512,
                                                     "disk_gib": 0})
            assert offering.status_code == 201, offering.text
        lock = threading.Lock()
        errors: list[BaseException] = []

        def run(n: int) -> None:
            try:
                _writer(base, member.json()["id"], n, accepted, refused, lock)
            except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(40)
        log.close()
    assert len(accepted) == WRITERS * ROUNDS * 3 and set(refused) == {404}

    engine = make_engine(fresh_postgres_db)
    try:
        auditor = Principal("test-auditor", frozenset({Role.AUDITOR}))
        count, broken = verify(SqlUnitOfWork(engine), auditor)
        with SqlUnitOfWork(engine) as uow:
            entries = list(uow.audit.walk())
    finally:
        engine.dispose()
    assert broken is None and count == len(entries)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))  # no gap, no repeat
    found = collections.Counter()
    for e in entries:
        for action, wid, status in ((e.action, part.split("=", 1)[1], e.outcome)
                                    for part in e.target.split(",") if "=" in part):
            found[(action, wid, status)] += 1
    for change in accepted:
        assert found[change] == 1, change  # each answered change audited once, with the status it was answered
    refusals = [e for e in entries if e.action == f"POST {PREFIX}/workloads" and e.outcome == 404]
    assert len(refusals) == WRITERS * ROUNDS  # refused requests are in the trail too

    cli = subprocess.run([sys.executable, "-m", "civicloud", "audit", "verify"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
