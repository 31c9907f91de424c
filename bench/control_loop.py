"""What one pass of the control loop costs when there is little or nothing new: full read against the cache.

The synthetic département (region.py) is written to a fresh PostgreSQL database; then, on a frozen clock,
the cost of a pass of ``PlacementLoop.run_once`` (reclaim, then placement, nothing pending) is timed:

- *full*: the context read whole from the store on every pass (what each pass did before the cache);
- *idle*: the loop's ``ContextCache`` with nothing new since the last pass;
- *1 % beat*: 1 % of the hosts' agents reported since the last pass (their rows are read again and the
  snapshot rebuilt from the cached rows).

At the default interval (CIVICLOUD_PLACEMENT_INTERVAL_S=2), an idle pass of x ms costs x / 20 % of a core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from civicloud.clock import FrozenClock
from civicloud.clock import random_ids as new_id
from civicloud.domain import Resources
from civicloud.services.loops import PlacementLoop
from civicloud.services.placement import PlacementSettings
from civicloud.services.reclaim import reclaim_pass
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from claim_path import _load_region
from peer_placement import postgres_database
from region import NOW, build_region
from report import publish


def _median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1e3, 1)


def measure(n_hosts: int, repeat: int) -> dict[str, float]:
    with postgres_database("postgresql+psycopg", f"control_loop_bench_{n_hosts}") as url:
        return _measure(make_engine(url), n_hosts, repeat)


def _measure(engine, n_hosts: int, repeat: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    try:
        upgrade(engine)
        _load_region(engine, n_hosts, 0)
        clock = FrozenClock(NOW + timedelta(seconds=5))
        factory = lambda: SqlUnitOfWork(engine, clock)  # noqa: E731
        settings = PlacementSettings()
        full = _median_ms(lambda: reclaim_pass(factory, settings), repeat)  # placement: nothing pending, no read
        loop = PlacementLoop(factory, settings, interval_s=3600)
        loop.run_once()  # fills the cache (and rolls up the hour once)
        loop.run_once()

        def idle() -> None:
            clock.advance(0.5)
            loop.run_once()

        cached = _median_ms(idle, repeat)
        hosts = build_region(n_hosts).hosts
        beating = hosts[:: max(1, len(hosts) // max(1, n_hosts // 100))]

        def one_percent() -> None:
            clock.advance(0.5)
            with factory() as uow:
                for h in beating:
                    uow.hosts.report(h.site_id, h.name, "test:///default", Resources(*h.total),
                                     Resources(*h.owner_used), clock(), new_id())
                uow.commit()
            t0 = time.perf_counter()
            loop.run_once()
            timings.append(time.perf_counter() - t0)

        timings: list[float] = []
        for _ in range(repeat):
            one_percent()
        beat = round(statistics.median(timings) * 1e3, 1)
    finally:
        engine.dispose()
    return {"full_ms": full, "idle_ms": cached, "one_percent_beat_ms": beat,
            "idle_core_percent_at_2s": round(cached / 2000 * 100, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    result: dict[str, object] = {}
    for n in args.hosts:
        for key, value in measure(n, args.repeat).items():
            result[f"{n}_hosts_{key}"] = value
    publish("control_loop", result)


if __name__ == "__main__":
    main()
