"""Packing benchmark: hosts the harvest profile uses for a stream of Azure V1 flavours, against bounds.

    .venv/bin/python bench/packing.py [--requests 3000] [--cores 64] [--memory-gib 256]

Identical hosts (one lender, everything lent, no owner load) receive the trace's requests in arrival
order through civicloud's scheduler with the harvest profile. Compared with:
- the lower bound: max over vCPU and memory of ⌈Σ size / host capacity⌉ — the optimum of the LP
  relaxation of this bin-packing problem, so no packing can use fewer hosts;
- first-fit-decreasing, the classic offline heuristic, which sorts the whole stream first (the
  scheduler cannot: requests arrive one by one).
Prints a table and writes bench/results/packing.json.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from civicloud.domain import ServiceClass  # noqa: E402
from civicloud.domain.offers import Offer  # noqa: E402
from civicloud.scheduler import HARVEST, HostRow, SiteFacts, build_snapshot, schedule  # noqa: E402

from region import NOW, requests  # noqa: E402
from report import publish  # noqa: E402


def stream(n: int) -> list:  # type: ignore[type-arg]
    out = []
    for batch in requests(n):
        out += [r for r in batch if r.resources[0] > 0]
    return out[:n]


def civicloud_hosts(reqs: list, cores: int, memory_mib: int) -> int:  # type: ignore[type-arg]
    site = SiteFacts("s", "lender", "m", "Europe/Paris", "93", "11", Offer(default_percent=100))
    pool = len(reqs)  # never short of hosts
    hosts = [HostRow(f"h{i:05d}", f"h{i:05d}", "s", (cores, memory_mib, 100_000, 0), ratios=(1.0, 1.0, 1.0, 1.0),
                     last_seen_at=NOW) for i in range(pool)]
    snap = build_snapshot(hosts, [site], NOW, timedelta(seconds=60))
    for req in reqs:
        # Every request as plain harvest work: packing, not certification or class, is measured here.
        harvest = replace(req, resources=(req.resources[0], req.resources[1], 0, 0),
                          service_class=ServiceClass.HARVEST, hds_activities=frozenset())
        decision = schedule(snap, harvest, HARVEST)
        assert decision.best is not None, "the pool has a host per request"
        snap = snap.with_claim(snap.index_of[decision.best], harvest.vector, harvest.service_class)
    return int((snap.allocated[0] > 0).sum())


def first_fit_decreasing(reqs: list, cores: int, memory_mib: int) -> int:  # type: ignore[type-arg]
    sizes = sorted(((r.resources[0], r.resources[1]) for r in reqs),
                   key=lambda s: max(s[0] / cores, s[1] / memory_mib), reverse=True)
    free: list[list[int]] = []
    for cpu, mem in sizes:
        for room in free:
            if room[0] >= cpu and room[1] >= mem:
                room[0] -= cpu
                room[1] -= mem
                break
        else:
            free.append([cores - cpu, memory_mib - mem])
    return len(free)


def lower_bound(reqs: list, cores: int, memory_mib: int) -> int:  # type: ignore[type-arg]
    cpu = sum(r.resources[0] for r in reqs)
    mem = sum(r.resources[1] for r in reqs)
    return max(math.ceil(cpu / cores), math.ceil(mem / memory_mib))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--cores", type=int, default=64)
    parser.add_argument("--memory-gib", type=int, default=256)
    args = parser.parse_args()
    np.seterr(all="ignore")
    reqs = stream(args.requests)
    mem = args.memory_gib * 1024
    bound = lower_bound(reqs, args.cores, mem)
    ours = civicloud_hosts(reqs, args.cores, mem)
    ffd = first_fit_decreasing(reqs, args.cores, mem)
    result = {"requests": len(reqs), "host_vcpus": args.cores, "host_memory_gib": args.memory_gib,
              "lower_bound_hosts": bound, "civicloud_harvest_hosts": ours, "ffd_hosts": ffd,
              "civicloud_over_bound": round(ours / bound, 4), "ffd_over_bound": round(ffd / bound, 4)}
    publish("packing", result)


if __name__ == "__main__":
    main()
