"""What an idle control plane costs: a real `civicloud server` on PostgreSQL with the synthetic département, no
request and no agent, its processes' CPU time (and PostgreSQL's for its connections) measured over a window.

The hosts' last reports are kept fresh for the whole window (CIVICLOUD_HOST_STALE_AFTER_S), so every pass of
the control loop has the whole federation to consider and nothing new to do: the cost of its ticks.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from api_placement import _prepare
from sqlalchemy import create_engine, text

from claim_path import ADMIN_URL
from peer_placement import free_port
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
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"idle_server_bench_{n_hosts}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    _prepare(url, n_hosts, 0)
    port = free_port()
    env = {**os.environ, "CIVICLOUD_DATABASE_URL": url, "CIVICLOUD_HOST_STALE_AFTER_S": "86400"}
    env.pop("CIVICLOUD_API_TOKEN", None)
    server = subprocess.Popen([sys.executable, "-m", "civicloud", "server", "--port", str(port), "--data-dir",
                               "/tmp"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        time.sleep(10)  # the first passes fill the loop's cache and roll the hour up
        pids = _tree(server.pid)
        backends = _postgres_backends(name)
        before, pg_before, t0 = _cpu_s(pids), _cpu_s(backends), time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        used, pg_used = _cpu_s(pids) - before, _cpu_s(backends) - pg_before
    finally:
        server.terminate()
        server.wait(60)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
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
