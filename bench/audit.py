"""The audit log's head under several writers: entries per second and commit latency on PostgreSQL.

Every change appends to one hash chain whose head row moves by compare-and-swap in the change's own
transaction (``store.uow.SqlUnitOfWork.commit``). With several writers (request handlers, the control loop,
several replicas) the head's row lock serialises the last step of every commit. This measures how far: W
threads each commit transactions carrying one audit entry (an event, as the control loop writes them) and a
workload-sized insert, against the same transactions without the entry.

    python bench/audit.py [--writers 1 2 4 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import threading
import time

from sqlalchemy import create_engine

from civicloud.domain import events
from civicloud.domain.identity import Principal, Role
from civicloud.services.audit import verify
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from report import publish

ADMIN_URL = os.environ.get("CIVICLOUD_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _writer(engine, audited: bool, stop: threading.Event, latencies: list[float]) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        began = time.perf_counter()
        with SqlUnitOfWork(engine) as uow:
            sample = uow.new_id()
            uow.idempotency.claim("bench", sample, "POST /bench", "0" * 64, uow.clock())  # the change itself
            if audited:
                uow.emit(events.placed(sample, "member", "host"))
            uow.commit()
        latencies.append(time.perf_counter() - began)


def _round(engine, writers: int, audited: bool, seconds: float) -> dict[str, float]:
    stop = threading.Event()
    per_thread: list[list[float]] = [[] for _ in range(writers)]
    threads = [threading.Thread(target=_writer, args=(engine, audited, stop, per_thread[i])) for i in range(writers)]
    for th in threads:
        th.start()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join()
    latencies = sorted(x for lat in per_thread for x in lat)
    return {"commits_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"civicloud_bench_audit_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)  # its pool holds 15 connections: enough for 8 writers
    result: dict[str, object] = {}
    try:
        upgrade(engine)
        for writers in args.writers:
            for audited in (False, True):
                figures = _round(engine, writers, audited, args.seconds)
                label = f"{writers}w_{'audited' if audited else 'plain'}"
                for key, value in figures.items():
                    result[f"{label}_{key}"] = value
        count, broken = verify(SqlUnitOfWork(engine), Principal("bench:audit", frozenset({Role.AUDITOR})))
        result["entries_written"] = count
        result["chain_intact"] = broken is None
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    publish("audit", result)


if __name__ == "__main__":
    main()
