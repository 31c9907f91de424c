"""Two control-plane processes write at once on one PostgreSQL database: no audit entry is lost, none is
written twice, and the chain stays intact.

Each replica creates workloads over its own API (each request audited in its transaction) while its control
loop places what is pending (each placement audited by the unit of work that claims it). Both append to the
same hash chain, whose head moves by compare-and-swap.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicloud.api import create_app
from civicloud.settings import Settings
from civicloud.store import make_engine, upgrade

import replica_worker
from civicloud_support import API, SIREN_BOBIGNY, SIREN_DRANCY, create_member, create_site, host_report, join_site, ok

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PER_REPLICA = 40


def test_two_replicas_lose_no_audit_entry(fresh_postgres_db: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_postgres_db)
    upgrade(engine)
    app = create_app(Settings(data_dir=tmp_path, database_url=fresh_postgres_db, api_token=None), engine=engine,
                     background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        drancy = create_member(client, "Drancy", SIREN_DRANCY, "commune")
        bobigny = create_member(client, "Bobigny", SIREN_BOBIGNY, "commune")
        site = create_site(client, drancy["id"], "drancy-mairie", "93029")
        ok(client.put(f"{API}/sites/{site['id']}/offer", json={"default_percent": 100}), 200)
        # Room for every request: 256 vCPU and 512 GiB for 80 × (2 vCPU, 4 GiB).
        join_site(client, site["id"], host_report("hv1", vcpus=64, memory_mib=512 * 1024, disk_gib=4000))
        ok(client.post(f"{API}/offerings", json={"name": "vm-small", "vcpus": 2, "memory_mib": 4096,
                                                 "disk_gib": 20}), 201)
        before = ok(client.get(f"{API}/audit/verify"), 200)
        assert before["intact"]

        start_at = time.time() + 2.0
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(replica_worker.run, fresh_postgres_db, tag, bobigny["id"], PER_REPLICA, start_at)
                       for tag in ("a", "b")]
            results = [f.result(timeout=240) for f in futures]

        assert [created for created, _placed in results] == [PER_REPLICA, PER_REPLICA]
        assert sum(placed for _created, placed in results) == 2 * PER_REPLICA  # each placed once, by either
        report = ok(client.get(f"{API}/audit/verify"), 200)
        assert report["intact"], report
        assert report["entries"] == before["entries"] + 2 * PER_REPLICA + 2 * PER_REPLICA  # requests + placements
        created = ok(client.get(f"{API}/audit", params={"action": "POST /api/v1/workloads", "limit": 1000}), 200)
        assert len(created) == 2 * PER_REPLICA and {e["outcome"] for e in created} == {202}
        placements = ok(client.get(f"{API}/audit", params={"action": "placement.place", "limit": 1000}), 200)
        once = Counter(e["target"].split(",")[0] for e in placements)
        assert len(once) == 2 * PER_REPLICA and set(once.values()) == {1}
        workloads = ok(client.get(f"{API}/workloads", params={"limit": 1000}), 200)
        assert {f"workload={w['id']}" for w in workloads} == set(once)
    engine.dispose()
