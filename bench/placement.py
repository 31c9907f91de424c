"""Placement benchmark: decisions per second over a synthetic département, in-process and through the claim path.

    .venv/bin/python bench/placement.py --hosts 5000 --requests 20000 [--claim-requests 2000] [--no-claim]

Prints a table and writes bench/results/placement.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from civicloud.scheduler.framework import schedule  # noqa: E402
from civicloud.scheduler.profiles import profile_for  # noqa: E402
from civicloud.scheduler.snapshot import build_snapshot  # noqa: E402

from region import NOW, build_region, requests, stale_after  # noqa: E402
from report import publish  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def in_process(n_hosts: int, n_requests: int) -> dict[str, float | int]:
    region = build_region(n_hosts)
    snap = build_snapshot(region.hosts, region.sites, NOW, stale_after())
    latencies: list[float] = []
    placed = unplaced = 0
    for batch in requests(n_requests):
        for req in batch:
            t0 = time.perf_counter()
            decision = schedule(snap, req, profile_for(req.service_class))
            latencies.append(time.perf_counter() - t0)
            if decision.best is None:
                unplaced += 1
                continue
            placed += 1
            snap = snap.with_claim(snap.index_of[decision.best], req.vector, req.service_class)
    # Overbooking check on the final state: no host holds more than its capacity, its lent room or the
    # owner's headroom allows.
    over = int(((snap.free < 0).any(axis=0) | (snap.owner_room < 0).any(axis=0)).sum())
    busy = float(sum(latencies))
    return {"hosts": n_hosts, "requests": placed + unplaced, "placed": placed, "unplaced": unplaced,
            "placements_per_s": round((placed + unplaced) / busy, 1),
            "p50_ms": round(percentile(latencies, 50) * 1e3, 3), "p99_ms": round(percentile(latencies, 99) * 1e3, 3),
            "mean_ms": round(statistics.fmean(latencies) * 1e3, 3), "overbooked_hosts": over}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--claim-requests", type=int, default=2000)
    parser.add_argument("--no-claim", action="store_true", help="only the in-process scheduler")
    args = parser.parse_args()
    np.seterr(all="ignore")
    result: dict[str, object] = in_process(args.hosts, args.requests)
    if not args.no_claim:
        from claim_path import claim_path  # noqa: PLC0415

        result.update(claim_path(args.hosts, args.claim_requests))
    publish("placement", result)


if __name__ == "__main__":
    main()
