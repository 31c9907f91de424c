"""The API under an open-loop mixed load: a real `civicloud server` on PostgreSQL, requests sent on a schedule.

The synthetic département (region.py, 5,000 hosts by default) in a fresh database, 200 workloads made first;
then, for each offered rate, requests are due at even intervals for the given time, taken in turn by C
client threads (keep-alive connections): 60 % `GET /workloads/{id}`, 20 % `GET /workloads?limit=50&offset=…`,
10 % `POST /workloads` (the Azure V1 stream's next request), 10 % `DELETE /workloads/{id}` of the oldest
workload still held. The schedule does not wait for the server (open loop): a request's latency runs from the
instant it was due, so a server that falls behind is charged for the queue it causes (no coordinated
omission). Reported per rate: the rate achieved, read p50/p99, write p50/p99, errors (any answer but 200/202,
or none). The saturation point is the highest rate offered whose achieved rate is within 5 % of it, with read
p99 ≤ 50 ms and write p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import threading
import time
from pathlib import Path

import httpx

from api_placement import _prepare, civicloud_server
from peer_placement import percentile, postgres_database
from report import publish

READ_P99_MS, WRITE_P99_MS = 50.0, 100.0


class _Mix:
    """What the next request is, from a seeded generator, shared by the client threads."""

    def __init__(self, bodies: list[dict[str, str]], held: list[str], seed: int) -> None:
        self._rng = random.Random(seed)
        self._bodies = iter(bodies)
        self._held = collections.deque(held)
        self._lock = threading.Lock()

    def next(self) -> tuple[str, str, str, dict[str, str] | None]:
        """(kind, method, path, body)."""
        with self._lock:
            roll = self._rng.random()
            if roll < 0.6 and self._held:
                return "read", "GET", f"/workloads/{self._rng.choice(self._held)}", None
            if roll < 0.8:
                return "read", "GET", f"/workloads?limit=50&offset={self._rng.randrange(0, 400)}", None
            if roll < 0.9 or len(self._held) < 50:
                return "write", "POST", "/workloads", next(self._bodies)
            return "write", "DELETE", f"/workloads/{self._held.popleft()}", None

    def created(self, workload_id: str) -> None:
        with self._lock:
            self._held.append(workload_id)


def _seed(base: str, bodies: list[dict[str, str]], n: int) -> list[str]:
    with httpx.Client(timeout=30) as http:
        return [http.post(f"{base}/workloads", json=body).raise_for_status().json()["id"] for body in bodies[:n]]


def offer(base: str, mix: _Mix, rate: float, seconds: float, clients: int) -> dict[str, float | int]:
    """Requests due every 1/rate s for ``seconds``, sent by ``clients`` threads."""
    n = int(rate * seconds)
    due = iter(range(n))
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {"read": [], "write": []}
    errors: list[str] = []
    start = time.perf_counter() + 0.2

    def client() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while True:
                with lock:
                    i = next(due, None)
                if i is None:
                    return
                at = start + i / rate
                wait = at - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                kind, method, path, body = mix.next()
                try:
                    r = http.request(method, path, json=body)
                    status: int | str = r.status_code
                except httpx.HTTPError as exc:
                    status, r = type(exc).__name__, None
                done = time.perf_counter()
                if r is not None and method == "POST" and r.status_code == 202:
                    mix.created(r.json()["id"])
                with lock:
                    latencies[kind].append(done - at)
                    if status not in (200, 202):
                        errors.append(f"{method} {status}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    reads, writes = sorted(latencies["read"]), sorted(latencies["write"])
    return {"offered_per_s": rate, "achieved_per_s": round(n / elapsed, 1), "requests": n,
            "read_p50_ms": round(statistics.median(reads) * 1e3, 1),
            "read_p99_ms": round(percentile(reads, 99) * 1e3, 1),
            "write_p50_ms": round(statistics.median(writes) * 1e3, 1),
            "write_p99_ms": round(percentile(writes, 99) * 1e3, 1), "errors": len(errors)}


def holds(result: dict[str, float | int]) -> bool:
    return (result["achieved_per_s"] >= 0.95 * result["offered_per_s"] and result["errors"] == 0
            and result["read_p99_ms"] <= READ_P99_MS and result["write_p99_ms"] <= WRITE_P99_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=300.0, help="the rate held for --seconds")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sweep", type=float, nargs="*", default=[25, 50, 100, 150, 200],
                        help="rates offered for --sweep-seconds each, to find the saturation point")
    parser.add_argument("--sweep-seconds", type=float, default=15.0)
    args = parser.parse_args()
    creates = int((args.rate * args.seconds + sum(args.sweep) * args.sweep_seconds) * 0.2) + 400
    result: dict[str, object] = {"hosts": args.hosts, "clients": args.clients, "api_workers": args.workers}
    with postgres_database("postgresql+psycopg", "load_bench") as url:
        bodies = _prepare(url, args.hosts, creates)
        with civicloud_server(url, args.workers, Path("/tmp/civicloud-load.log")) as (base, _):
            mix = _Mix(bodies[200:], _seed(base, bodies, 200), seed=7)
            saturation = 0.0
            for rate in sorted(args.sweep):
                step = offer(base, mix, rate, args.sweep_seconds, args.clients)
                for key, value in step.items():
                    result[f"at_{rate:g}_{key}"] = value
                if holds(step):
                    saturation = rate
            held = offer(base, mix, args.rate, args.seconds, args.clients)
            for key, value in held.items():
                result[f"held_{key}"] = value
            if holds(held):
                saturation = max(saturation, args.rate)
    result["saturation_per_s"] = saturation
    publish("load", result)


if __name__ == "__main__":
    main()
