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
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import text

from civicloud.clock import random_ids as new_id
from civicloud.domain import Member, Offering, Resources
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from claim_path import _load_region
from peer_placement import free_port, percentile, postgres_database
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


@contextlib.contextmanager
def civicloud_server(url: str, workers: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`civicloud server` on ``url`` (open mode, loopback; the hosts stay fresh without agents), until it
    answers: (its API's base URL, its process); stopped afterwards."""
    env = {**os.environ, "CIVICLOUD_DATABASE_URL": url, "CIVICLOUD_API_WORKERS": str(workers),
           "CIVICLOUD_HOST_STALE_AFTER_S": "86400"}
    env.pop("CIVICLOUD_API_TOKEN", None)
    port = free_port()
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "civicloud", "server", "--port", str(port), "--data-dir",
                                   "/tmp"], env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            deadline = time.monotonic() + 60
            while not _answers(base):
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start; see {log}")
                time.sleep(0.2)
            yield base, server
        finally:
            server.terminate()
            server.wait(60)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def run(n_hosts: int, n_requests: int, clients: int, workers: int) -> dict[str, float | int]:
    with postgres_database("postgresql+psycopg", f"api_placement_bench_{clients}") as url:
        bodies = _prepare(url, n_hosts, n_requests)
        engine = make_engine(url)
        try:
            with civicloud_server(url, workers, Path(f"/tmp/civicloud-api-placement-{clients}.log")) as (base, _):
                return _drive(base, engine, bodies, clients)
        finally:
            engine.dispose()


def _drive(base: str, engine, bodies: list[dict[str, str]], clients: int) -> dict[str, float | int]:  # type: ignore[no-untyped-def]
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
