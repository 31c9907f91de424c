"""Placement as a client sees it: a real `civicloud server` on PostgreSQL, the Azure V1 stream POSTed to
/api/v1/workloads by C clients, timed until every workload is decided.

The synthetic département (region.py) is written to a fresh database; the server runs as `civicloud server`
does in production (the control loop in its own process, CIVICLOUD_API_WORKERS API workers), in its open
mode on loopback (no credential: the rate limits and token checks are not what is measured). A workload
is *decided* once the control loop placed it or explained why it cannot be placed yet. Reported per client
count: decided/s (from the first POST to the last decision), POST p50/p99, and how many were placed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from civicloud.clock import random_ids as new_id
from civicloud.domain import Member, Offering, Resources
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from claim_path import ADMIN_URL, _load_region
from peer_placement import free_port, percentile
from region import NOW, requests
from report import publish


def _prepare(url: str, n_hosts: int, n_requests: int) -> list[dict[str, str]]:
    """The region in the database, hosts seen now; the borrowers and offerings; the bodies to POST."""
    engine = make_engine(url)
    upgrade(engine)
    _load_region(engine, n_hosts, 0)
    bodies = []
    with SqlUnitOfWork(engine) as uow:
        borrowers: dict[str, str] = {}
        offerings: dict[tuple[object, ...], str] = {}
        for batch in requests(n_requests):
            for req in batch:
                cat = req.borrower_category
                if cat.value not in borrowers:
                    member = Member(new_id(), f"borrower-{cat.value}", "219300084", None, cat, NOW)
                    uow.members.add(member)
                    borrowers[cat.value] = member.id
                key = (req.resources, req.service_class, req.hds_activities)
                if key not in offerings:
                    o = Offering(new_id(), f"o{len(offerings)}", "", Resources(*req.resources), req.service_class,
                                 req.hds_activities)
                    uow.offerings.add(o)
                    offerings[key] = o.id
                bodies.append({"member_id": borrowers[cat.value], "offering_id": offerings[key],
                               "name": f"w{len(bodies)}"})
        uow.commit()
    with engine.begin() as conn:
        conn.execute(text("UPDATE hosts SET last_seen_at = now()"))  # the agents have just reported
    engine.dispose()
    return bodies


def _undecided(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM workloads WHERE state = 'pending' "
                                     "AND message = 'waiting for placement'")).scalar_one())


def run(n_hosts: int, n_requests: int, clients: int, workers: int) -> dict[str, float | int]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"api_placement_bench_{clients}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    bodies = _prepare(url, n_hosts, n_requests)
    port = free_port()
    env = {**os.environ, "CIVICLOUD_DATABASE_URL": url, "CIVICLOUD_API_WORKERS": str(workers),
           "CIVICLOUD_HOST_STALE_AFTER_S": "86400"}  # the hosts stay fresh through the run without agents
    env.pop("CIVICLOUD_API_TOKEN", None)
    log = Path(f"/tmp/civicloud-api-placement-{clients}.log").open("wb")  # noqa: SIM115
    server = subprocess.Popen([sys.executable, "-m", "civicloud", "server", "--port", str(port), "--data-dir",
                               "/tmp"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/api/v1"
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {log.name}")
            time.sleep(0.2)
        latencies: list[float] = []
        errors: list[int] = []
        lock = threading.Lock()

        def client(mine: list[dict[str, str]]) -> None:
            with httpx.Client(timeout=30) as http:
                for body in mine:
                    t0 = time.perf_counter()
                    r = http.post(f"{base}/workloads", json=body)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        if r.status_code != 202:
                            errors.append(r.status_code)

        threads = [threading.Thread(target=client, args=(bodies[i::clients],)) for i in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        posted = time.perf_counter() - start
        while _undecided(engine) and time.perf_counter() - start < 600:
            time.sleep(0.02)
        decided = time.perf_counter() - start
        with engine.connect() as conn:
            placed = int(conn.execute(text("SELECT count(*) FROM workloads WHERE host_id IS NOT NULL")).scalar_one())
        latencies.sort()
        return {"requests": len(bodies), "posted_per_s": round(len(bodies) / posted, 1),
                "decided_per_s": round(len(bodies) / decided, 1), "placed": placed, "errors": len(errors),
                "post_p50_ms": round(statistics.median(latencies) * 1e3, 1),
                "post_p99_ms": round(percentile(latencies, 99) * 1e3, 1)}
    finally:
        server.terminate()
        server.wait(60)
        log.close()
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    result: dict[str, object] = {"hosts": args.hosts, "api_workers": args.workers}
    for c in args.clients:
        for key, value in run(args.hosts, args.requests, c, args.workers).items():
            result[f"{c}_clients_{key}"] = value
    publish("api_placement", result)


if __name__ == "__main__":
    main()
