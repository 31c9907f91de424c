"""Rate limits in the database (services/rate_limits.py): what a check costs, and why it runs in a transaction
of its own rather than in the request's.

    PYTHONPATH=src .venv/bin/python bench/rate_limits.py

1. One check (the sweep's test, the previous window's count, the upsert, the commit), median and 99th
   percentile, on SQLite (a temporary file) and PostgreSQL (a fresh database on
   CIVICLOUD_BENCH_POSTGRES_URL, default the local server).
2. PostgreSQL, one hot API token: 8 threads each make 10 mutating "requests" that check the token then work
   for 20 ms inside the request's transaction. With the check inside that transaction the counter's row stays
   locked until the request commits, so the requests of one token run one at a time; with the check in its
   own transaction they overlap.
3. The sweep: how long deleting 10,000 expired windows takes (it runs once a window per limiter and replica).
"""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert

from civicloud.clock import FrozenClock
from civicloud.domain.rate_limits import window_at
from civicloud.services.rate_limits import RateLimiter
from civicloud.store import SharedTransaction, SqlUnitOfWork, make_engine, upgrade
from civicloud.store.tables import rate_limits

ADMIN_URL = os.environ.get("CIVICLOUD_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 12, 3, 9, 0, 1, tzinfo=UTC)


def check_latency(engine: Engine, n: int = 2000) -> tuple[float, float]:
    clock = FrozenClock(T0)
    limiter = RateLimiter(lambda: SqlUnitOfWork(engine, clock), 1_000_000, 60.0, "x")
    took = []
    for i in range(n):
        started = time.perf_counter()
        limiter.check(f"token:{i % 50}")
        took.append(time.perf_counter() - started)
    took.sort()
    return statistics.median(took) * 1000, took[int(len(took) * 0.99)] * 1000


def hot_token(engine: Engine, inside: bool, threads: int = 8, requests: int = 10, work_s: float = 0.02) -> float:
    """Wall time of threads × requests mutating requests of one token, each working ``work_s``."""
    clock = FrozenClock(T0)
    limiter = RateLimiter(lambda: SqlUnitOfWork(engine, clock), 1_000_000, 60.0, "x")
    start = threading.Barrier(threads)

    def request() -> None:
        tx = SharedTransaction(engine)
        with tx.current():
            if inside:  # the count joins the request's transaction (a savepoint), as it would without
                with SqlUnitOfWork(engine, clock) as uow:  # outside_transaction()
                    limiter.count(uow, window_at(clock(), 60.0), ["token:hot"])
                    uow.commit()
            else:
                limiter.check("token:hot")
            tx.connection()  # the request's own work
            time.sleep(work_s)
        tx.commit()

    def run() -> None:
        start.wait()
        for _ in range(requests):
            request()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - began


def sweep(engine: Engine, rows: int = 10_000) -> float:
    old = T0 - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(insert(rate_limits), [{"key": f"addr:{i}", "window_start": old, "count": 1,
                                            "expires_at": old + timedelta(minutes=2)} for i in range(rows)])
    started = time.perf_counter()
    with SqlUnitOfWork(engine) as uow:
        gone = uow.rate_limits.forget_expired(T0)
        uow.commit()
    assert gone == rows
    return time.perf_counter() - started


def on(name: str, engine: Engine, postgres: bool) -> None:
    upgrade(engine)
    median, p99 = check_latency(engine)
    print(f"{name}: one check {median:.2f} ms median, {p99:.2f} ms p99")
    if postgres:
        for inside in (True, False):
            with engine.begin() as conn:
                conn.execute(rate_limits.delete())
            wall = hot_token(engine, inside)
            where = "inside the request's transaction" if inside else "in its own transaction  "
            print(f"{name}: 80 requests of one token (8 threads, 20 ms of work each), check {where}: "
                  f"{wall:.2f} s")
    with engine.begin() as conn:
        conn.execute(rate_limits.delete())
    print(f"{name}: sweeping 10,000 expired windows: {sweep(engine) * 1000:.0f} ms")


def with_postgres(run: Callable[[Engine], None]) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    db = f"civicloud_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{db}"')
    engine = make_engine(admin.url.set(database=db).render_as_string(hide_password=False))
    try:
        run(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        on("SQLite", engine, postgres=False)
        engine.dispose()
    with_postgres(lambda engine: on("PostgreSQL", engine, postgres=True))


if __name__ == "__main__":
    main()
