"""What an idle control plane costs: a real `civicloud server` on PostgreSQL with the synthetic département, no
request and no agent, its processes' CPU time (and PostgreSQL's for its connections) measured over a window.

The hosts' last reports are kept fresh for the whole window (CIVICLOUD_HOST_STALE_AFTER_S), so every pass of
the control loop has the whole federation to consider and nothing new to do: the cost of its ticks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from api_placement import _prepare, civicloud_server
from claim_path import ADMIN_URL
from peer_placement import postgres_database
from report import publish

TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(p)], capture_output=True, text=True, check=False)
        todo += [int(k) for k in kids.stdout.split()]
    return out


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def _postgres_backends(db: str) -> list[int]:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": db})
        return [int(r.pid) for r in rows]


def measure(n_hosts: int, seconds: float) -> dict[str, float]:
    with postgres_database("postgresql+psycopg", f"idle_server_bench_{n_hosts}") as url:
        _prepare(url, n_hosts, 0)
        with civicloud_server(url, 2, Path("/tmp/civicloud-idle-server.log")) as (_base, server):
            time.sleep(10)  # the first passes fill the loop's cache and roll the hour up
            pids = _tree(server.pid)
            backends = _postgres_backends(url.rsplit("/", 1)[1])
            before, pg_before, t0 = _cpu_s(pids), _cpu_s(backends), time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - t0
            used, pg_used = _cpu_s(pids) - before, _cpu_s(backends) - pg_before
    return {"server_core_percent": round(used / elapsed * 100, 2),
            "postgres_core_percent": round(pg_used / elapsed * 100, 2), "seconds": round(elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    result: dict[str, object] = {"hosts": args.hosts}
    result.update(measure(args.hosts, args.seconds))
    publish("idle_server", result)


if __name__ == "__main__":
    main()
