"""Peer benchmark: the same département and request stream through OpenStack Placement and civicloud's claim path.

    .venv/bin/python bench/peer_placement.py --hosts 5000 --requests 2000 [--peer-requests 200]
        [--peer-seconds 120] [--peer-db sqlite|postgres] [--peer-limit 1000] [--peer-venv PATH]

OpenStack Placement, the real service, runs from its own virtualenv (bench/.peer-venv/ unless --peer-venv
says otherwise), created here on first use with pip from PyPI; it is no dependency of civicloud. This
script writes its configuration (auth_strategy = noauth2; database on a temporary SQLite file, or on a
throw-away database of the local PostgreSQL with --peer-db postgres), runs `placement-manage db sync`,
serves placement.wsgi.api:application with gunicorn on 127.0.0.1 (a free port) and stops it at the end,
error or not.

Placement gets, for each host of region.build_region(hosts), a resource provider with VCPU, MEMORY_MB
and DISK_GB inventories (total, reserved and allocation ratio as in the region; max_unit = total, as
Nova's libvirt driver reports it). Then, for each of the first --peer-requests requests of
region.requests(requests), the scheduler's two calls: GET /allocation_candidates (limit = --peer-limit,
Nova's max_placement_results defaults to 1000) and PUT /allocations/{consumer} with the first candidate.
civicloud runs claim_path(hosts, requests) from claim_path.py: the same inventory and the same stream,
through the store, the snapshot, the decision and the compare-and-swap claim.

Prints a table and writes bench/results/peer_placement.json.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from region import build_region, requests  # noqa: E402

RESULTS = BENCH / "results"
DEFAULT_VENV = BENCH / ".peer-venv"
# 16.0.0 is the reference release and installs and runs on Python 3.11. gunicorn serves its WSGI app
# (the wheel ships no placement-api script: pbr's wsgi_scripts are not built for wheels); psycopg2 is the driver
# oslo.db uses for PostgreSQL.
PEER_PINS = ("openstack-placement==16.0.0", "gunicorn==27.0.1", "psycopg2-binary==2.9.13")
PEER_REPORTED = ("openstack-placement", "oslo.db", "SQLAlchemy", "gunicorn", "psycopg2-binary")
MICROVERSION = "placement 1.36"  # 1.36 is the issue's; 16.0.0 serves up to 1.39
HEADERS = {"X-Auth-Token": "admin", "OpenStack-API-Version": MICROVERSION, "Accept": "application/json"}
NAMESPACE = uuid.UUID("0b7ad1d4-3f4e-4d0e-9c55-2c1b6c1e5a10")  # provider and consumer uuids, deterministic
PROJECT_ID = "civicloud-bench"
USER_ID = "civicloud-bench"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


# ---------------------------------------------------------------------------------------------- the peer's venv

def ensure_peer_venv(venv: Path) -> Path:
    """The virtualenv holding OpenStack Placement, created (or refreshed when the pins changed) as needed."""
    marker = venv / ".civicloud-peer-pins"
    wanted = "\n".join(PEER_PINS) + "\n"
    python = venv / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return venv
    print(f"[peer] preparing {venv} with {' '.join(PEER_PINS)} (from PyPI; takes a minute the first time)",
          flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log = venv / "pip-install.log"
    with log.open("w") as out:
        done = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *PEER_PINS],
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise SystemExit(f"[peer] pip install into {venv} failed ({done.returncode}):\n{tail}")
    marker.write_text(wanted)
    return venv


def peer_versions(venv: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys\n"
            f"print(json.dumps({{n: m.version(n) for n in {list(PEER_REPORTED)!r}}}))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


# ------------------------------------------------------------------------------------------------ the service

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_database(driver: str = "postgresql+psycopg2", prefix: str = "placement_bench") -> Iterator[str]:
    """A throw-away database on the local PostgreSQL, its URL with ``driver`` (psycopg2 for oslo.db); dropped
    afterwards."""
    from sqlalchemy import create_engine  # noqa: PLC0415

    from claim_path import ADMIN_URL  # noqa: PLC0415 - only when asked for PostgreSQL

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.url.set(drivername=driver, database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn (its master and workers: the process group it leads, which we started)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


@contextlib.contextmanager
def placement_service(venv: Path, db: str, workers: int) -> Iterator[dict[str, object]]:
    """Configure, db-sync and serve OpenStack Placement on 127.0.0.1; stopped (and its database removed) after."""
    with tempfile.TemporaryDirectory(prefix="peer-placement-") as tmp, contextlib.ExitStack() as stack:
        conf_dir = Path(tmp)
        if db == "postgres":
            connection = stack.enter_context(postgres_database())
        else:
            connection = f"sqlite:///{conf_dir / 'placement.sqlite'}"
        (conf_dir / "placement.conf").write_text(
            "[DEFAULT]\ndebug = False\n"
            "[api]\nauth_strategy = noauth2\n"
            f"[placement_database]\nconnection = {connection}\n")
        env = {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(conf_dir)}
        t0 = time.perf_counter()
        sync = subprocess.run([str(venv / "bin" / "placement-manage"), "--config-file",
                               str(conf_dir / "placement.conf"), "db", "sync"],
                              env=env, capture_output=True, text=True, check=False)
        if sync.returncode != 0:
            raise RuntimeError(f"placement-manage db sync failed:\n{sync.stdout}\n{sync.stderr}")
        sync_s = time.perf_counter() - t0
        port = free_port()
        log_path = conf_dir / "placement-api.log"
        log = stack.enter_context(log_path.open("wb"))
        proc = subprocess.Popen(
            [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--timeout", "600", "--no-control-socket", "placement.wsgi.api:application"],
            env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"placement-api exited ({proc.returncode}):\n{_tail(log_path)}")
                try:
                    if httpx.get(url + "/", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"placement-api did not answer on {url}:\n{_tail(log_path)}")
                time.sleep(0.2)
            yield {"url": url, "db_sync_s": round(sync_s, 2), "log": log_path,
                   "database": "postgresql" if db == "postgres" else "sqlite"}
        except BaseException:
            print(f"[peer] placement-api log tail:\n{_tail(log_path)}", file=sys.stderr)
            raise
        finally:
            _stop(proc)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------- the peer's run

def _check(resp: httpx.Response, what: str) -> httpx.Response:
    if resp.status_code >= 400:
        raise RuntimeError(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")
    return resp


def load_inventory(client: httpx.Client, n_hosts: int) -> tuple[int, float]:
    """One resource provider per host of the region, with its inventory, as the compute nodes would report it."""
    region = build_region(n_hosts)
    t0 = time.perf_counter()
    for h in region.hosts:
        rp = str(uuid.uuid5(NAMESPACE, h.id))
        _check(client.post("/resource_providers", json={"name": h.name, "uuid": rp}), f"create {h.name}")
        inventories = {}
        for rc, total, reserved, ratio in zip(("VCPU", "MEMORY_MB", "DISK_GB"), h.total, h.reserved, h.ratios,
                                              strict=False):
            inventories[rc] = {"total": total, "reserved": reserved, "allocation_ratio": ratio,
                               "min_unit": 1, "max_unit": total, "step_size": 1}
        _check(client.put(f"/resource_providers/{rp}/inventories",
                          json={"resource_provider_generation": 0, "inventories": inventories}),
               f"inventory of {h.name}")
    return len(region.hosts), time.perf_counter() - t0


def replay(client: httpx.Client, n_requests: int, peer_requests: int, peer_seconds: float,
           limit: int) -> dict[str, object]:
    """The first `peer_requests` of the stream: candidates, then the allocation of the first one."""
    stream = itertools.islice((r for batch in requests(n_requests) for r in batch), peer_requests)
    latencies: list[float] = []
    query_latencies: list[float] = []
    candidates: list[int] = []
    used: set[str] = set()
    placed = unplaced = conflicts = 0
    t0 = time.perf_counter()
    for req in stream:
        if time.perf_counter() - t0 > peer_seconds:
            break
        vcpus, mib, disk, _gpus = req.resources
        began = time.perf_counter()
        resp = _check(client.get("/allocation_candidates", params={
            "resources": f"VCPU:{vcpus},MEMORY_MB:{mib},DISK_GB:{disk}", "limit": str(limit)}),
            "allocation_candidates")
        query_latencies.append(time.perf_counter() - began)
        requests_found = resp.json()["allocation_requests"]
        candidates.append(len(requests_found))
        if not requests_found:
            unplaced += 1
            latencies.append(time.perf_counter() - began)
            continue
        first = requests_found[0]["allocations"]
        consumer = str(uuid.uuid5(NAMESPACE, req.workload_id))
        put = client.put(f"/allocations/{consumer}", json={
            "allocations": first, "consumer_generation": None, "project_id": PROJECT_ID, "user_id": USER_ID})
        latencies.append(time.perf_counter() - began)
        if put.status_code == 409:  # a generation conflict: no one else writes here, so this should not happen
            conflicts += 1
            unplaced += 1
            continue
        _check(put, f"allocations of {req.workload_id}")
        placed += 1
        used.update(first)
    elapsed = time.perf_counter() - t0
    done = placed + unplaced
    return {"requests": done, "placed": placed, "unplaced": unplaced, "conflicts": conflicts,
            "seconds": round(elapsed, 2), "per_s": round(done / elapsed, 2) if elapsed else 0.0,
            "p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)),
            "candidates_p50_ms": ms(percentile(query_latencies, 50)),
            "candidates_p99_ms": ms(percentile(query_latencies, 99)),
            "candidates_returned_p50": percentile([float(c) for c in candidates], 50),
            "providers_used": len(used), "time_bound_hit": done < peer_requests}


def placement_side(args: argparse.Namespace) -> dict[str, object]:
    venv = ensure_peer_venv(Path(args.peer_venv).resolve())
    versions = peer_versions(venv)
    with placement_service(venv, args.peer_db, args.peer_workers) as svc, \
            httpx.Client(base_url=str(svc["url"]), headers=HEADERS, timeout=600) as client:
        root = _check(client.get("/"), "versions").json()["versions"][0]
        print(f"[peer] Placement {versions['openstack-placement']} on {svc['url']} ({svc['database']}), "
              f"loading {args.hosts} providers", flush=True)
        n, load_s = load_inventory(client, args.hosts)
        listed = _check(client.get("/resource_providers"), "list").json()["resource_providers"]
        if len(listed) != n:
            raise RuntimeError(f"{len(listed)} providers listed, {n} loaded")
        print(f"[peer] loaded in {load_s:.1f} s; replaying up to {args.peer_requests} requests "
              f"(at most {args.peer_seconds:g} s)", flush=True)
        run = replay(client, args.requests, args.peer_requests, args.peer_seconds, args.peer_limit)
    return {"version": versions["openstack-placement"], "versions": versions, "max_microversion": root["max_version"],
            "microversion": MICROVERSION.split()[1], "database": svc["database"], "db_sync_s": svc["db_sync_s"],
            "load_s": round(load_s, 2), "providers": n, "workers": args.peer_workers, "limit": args.peer_limit, **run}


# ------------------------------------------------------------------------------------------- civicloud's run

def civicloud_side(n_hosts: int, n_requests: int) -> dict[str, object]:
    import claim_path as cp  # noqa: PLC0415 - imports civicloud and SQLAlchemy

    loads: list[float] = []
    original = cp._load_region

    def timed_load(*a: object, **kw: object) -> None:  # the load, timed apart from the claims
        t0 = time.perf_counter()
        original(*a, **kw)  # type: ignore[arg-type]
        loads.append(time.perf_counter() - t0)

    cp._load_region = timed_load  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        result = cp.claim_path(n_hosts, n_requests)
        wall = time.perf_counter() - t0
    finally:
        cp._load_region = original  # type: ignore[assignment]
    pg = "claim_postgres_placements_per_s" in result
    db = "postgres" if pg else "sqlite"
    out: dict[str, object] = {
        "database": "postgresql" if pg else "sqlite",
        "per_s": result[f"claim_{db}_placements_per_s"],
        "requests": result[f"claim_{db}_requests"], "placed": result[f"claim_{db}_placed"],
        "seconds": result[f"claim_{db}_seconds"], "overbooked_hosts": result[f"claim_{db}_overbooked_hosts"],
        # claim_path reports these once it observes its batches; None where this version of it does not
        "p50_ms": result.get(f"claim_{db}_p50_ms"), "p99_ms": result.get(f"claim_{db}_p99_ms"),
        "sqlite_per_s": result.get("claim_sqlite_placements_per_s"),
        "postgres_per_s": result.get("claim_postgres_placements_per_s"),
        "load_s": round(loads[-1], 2) if loads else None,
        "load_s_by_db": [round(x, 2) for x in loads],
        "wall_s": round(wall, 2), "raw": result,
    }
    return out


# --------------------------------------------------------------------------------------------------- the run

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=2000, help="civicloud's claim-path requests (the stream)")
    parser.add_argument("--peer-requests", type=int, default=200, help="how many of them Placement gets")
    parser.add_argument("--peer-seconds", type=float, default=120.0, help="time bound of Placement's replay")
    parser.add_argument("--peer-limit", type=int, default=1000, help="limit= of GET /allocation_candidates")
    parser.add_argument("--peer-db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--peer-workers", type=int, default=1, help="gunicorn workers (the client is sequential)")
    parser.add_argument("--peer-venv", default=str(DEFAULT_VENV), help="OpenStack Placement's own virtualenv")
    parser.add_argument("--through-api", type=int, nargs="*", default=[], metavar="CLIENTS",
                        help="also POST the stream to a real `civicloud server` with these client counts "
                             "(bench/api_placement.py), in the same run, and compare it with Placement")
    args = parser.parse_args()
    # A SIGTERM unwinds like ^C does, so the service is stopped and its database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.perf_counter()
    load_before = os.getloadavg()
    ensure_peer_venv(Path(args.peer_venv).resolve())  # fail early, before civicloud's run
    print(f"[civicloud] claim path: {args.hosts} hosts, {args.requests} requests (SQLite, then PostgreSQL)",
          flush=True)
    civ = civicloud_side(args.hosts, args.requests)
    peer = placement_side(args)
    through_api: dict[str, object] = {}
    for clients in args.through_api:
        import api_placement  # noqa: PLC0415 - imports civicloud and SQLAlchemy

        print(f"[civicloud] through the API: {args.requests} POSTs by {clients} clients", flush=True)
        api = api_placement.run(args.hosts, args.requests, clients, 2)
        through_api[f"{clients}_clients"] = {
            **api, "ratio": round(float(api["decided_per_s"]) / float(peer["per_s"]), 1)}  # type: ignore[arg-type]
    total = time.perf_counter() - started

    raw = civ.pop("raw")
    same_db = civ["postgres_per_s"] if peer["database"] == "postgresql" else civ["sqlite_per_s"]
    result: dict[str, object] = {
        "hosts": args.hosts,
        "civicloud_per_s": civ["per_s"],
        "placement_per_s": peer["per_s"],
        "ratio": round(float(civ["per_s"]) / float(peer["per_s"]), 1),  # type: ignore[arg-type]
        "ratio_same_database": (round(float(same_db) / float(peer["per_s"]), 1)  # type: ignore[arg-type]
                                if same_db is not None else None),
        "placement_version": peer["version"],
        "civicloud_database": civ["database"], "placement_database": peer["database"],
        "civicloud_p50_ms": civ["p50_ms"], "civicloud_p99_ms": civ["p99_ms"],
        "placement_p50_ms": peer["p50_ms"], "placement_p99_ms": peer["p99_ms"],
        "civicloud_load_s": civ["load_s"], "placement_load_s": peer["load_s"],
        "civicloud_requests": civ["requests"], "placement_requests": peer["requests"],
        # The same stream POSTed to civicloud's API (decided/s, from the first POST to the last decision),
        # and its ratio to Placement's placements/s over Placement's own API, measured in this run.
        "through_api": through_api,
        "total_run_s": round(total, 1),
        # Both sides share this machine with whatever else runs on it: the load average says how quiet it was.
        "machine": {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "civicloud": civ, "placement": peer, "claim_path": raw,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "peer_placement.json").write_text(json.dumps(result, indent=2, default=str) + "\n")

    rows = [
        ("database", civ["database"], peer["database"]),
        ("requests", civ["requests"], peer["requests"]),
        ("placed", civ["placed"], peer["placed"]),
        ("placements/s", civ["per_s"], peer["per_s"]),
        ("p50 latency (ms) *", civ["p50_ms"], peer["p50_ms"]),
        ("p99 latency (ms) *", civ["p99_ms"], peer["p99_ms"]),
        ("load (s) **", civ["load_s"], peer["load_s"]),
        ("placing (s)", civ["seconds"], peer["seconds"]),
    ]
    print(f"\n{args.hosts} hosts; civicloud: claim path; OpenStack Placement {peer['version']} "
          f"(microversion {peer['microversion']}, limit={peer['limit']})")
    print(f"{'':<20}{'civicloud':>14}{'Placement':>14}")
    for name, a, b in rows:
        print(f"{name:<20}{a!s:>14}{b!s:>14}")
    print(f"ratio civicloud/Placement: {result['ratio']}x"
          + (f" (same database, {peer['database']}: {result['ratio_same_database']}x)"
             if result["ratio_same_database"] is not None and civ["database"] != peer["database"] else ""))
    print("*  civicloud: its claim batch's, first decision to commit (a workload waits for its batch);\n"
          "   Placement: GET /allocation_candidates + PUT /allocations, one request")
    print("** civicloud: hosts, sites, offers, members and the pending workloads through the repositories;\n"
          "   Placement: one POST /resource_providers + PUT inventories per host, over HTTP")
    print(f"Placement: candidates query p50 {peer['candidates_p50_ms']} ms, p99 {peer['candidates_p99_ms']} ms; "
          f"db sync {peer['db_sync_s']} s; whole run {total:.0f} s")
    print(f"wrote {RESULTS / 'peer_placement.json'}")


if __name__ == "__main__":
    main()
