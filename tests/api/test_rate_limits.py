"""Rate limits counted in the database (services/rate_limits.py): shared by replicas, sliding, bounded, exact
under concurrency, and kept whatever becomes of the request they were checked for. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from civicloud.api import create_app
from civicloud.clock import FrozenClock
from civicloud.errors import RateLimited
from civicloud.services import identity
from civicloud.services.rate_limits import RateLimiter
from civicloud.settings import Settings
from civicloud.store import SharedTransaction, SqlUnitOfWork, make_engine
from civicloud.store.tables import rate_limits

from civicloud_support import API, error_code, ok

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a minute's first instant: windows are [T0, T0 + 1 min), …


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0 + timedelta(seconds=1))


@pytest.fixture
def replica_engine(database_url: str, engine: Engine) -> Iterator[Engine]:
    """A second engine on the same database: another control-plane process, with its own connections."""
    other = make_engine(database_url)
    yield other
    other.dispose()


def limiter(engine: Engine, clock: FrozenClock, attempts: int) -> RateLimiter:
    return RateLimiter(lambda: SqlUnitOfWork(engine, clock), attempts, 60.0, "too many")


def admitted(limiter: RateLimiter, *keys: str) -> bool:
    try:
        limiter.check(*keys)
    except RateLimited as exc:
        assert exc.code == "civicloud.auth.rate_limited" and exc.retry_after_s is not None
        assert exc.message == f"too many; retry in {exc.retry_after_s} s" and 1 <= exc.retry_after_s <= 120
        return False
    return True


def stored(engine: Engine) -> list[tuple[str, datetime, int]]:
    c = rate_limits.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.key, c.window_start, c.count).order_by(c.key, c.window_start))
        return [(key, start, count) for key, start, count in rows]


def at(minutes: int, seconds: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def test_the_window_slides_then_resets_after_the_period(engine: Engine, clock: FrozenClock) -> None:
    limit = limiter(engine, clock, 3)
    assert [admitted(limit, "token:t") for _ in range(4)] == [True, True, True, False]
    clock.set(at(1, 1))  # the next window: the previous one's 3 still weigh 59/60
    assert not admitted(limit, "token:t")
    clock.set(at(1, 30))  # half of them have slid out: room for one
    assert [admitted(limit, "token:t") for _ in range(2)] == [True, False]
    clock.set(at(3))  # a whole window without a check: the limit is whole again
    assert [admitted(limit, "token:t") for _ in range(4)] == [True, True, True, False]
    assert stored(engine) == [("token:t", at(3), 3)]  # the older windows were swept


def test_a_refused_check_counts_nothing_and_keys_pass_together(engine: Engine, clock: FrozenClock) -> None:
    logins = limiter(engine, clock, 2)
    assert admitted(logins, "addr:a", "login:x") and admitted(logins, "login:x", "addr:a")
    assert not admitted(logins, "addr:a", "login:y")  # the address is over: login:y is not counted
    assert not admitted(logins, "addr:b", "login:x")  # the login is over: addr:b is not counted
    assert stored(engine) == [("addr:a", at(0), 2), ("login:x", at(0), 2)]
    assert admitted(limiter(engine, clock, 3), "login:" + "x" * 300)  # a key too long is counted by its hash
    assert [k for k, _, _ in stored(engine)][-1].startswith("sha256:")


def test_the_table_stays_bounded(engine: Engine, clock: FrozenClock) -> None:
    """A hundred new client addresses a minute for ten minutes: the table keeps the last two minutes' only."""
    limit = limiter(engine, clock, 10)
    for minute in range(10):
        clock.set(at(minute, 5))
        for n in range(100):
            assert admitted(limit, f"addr:10.{minute}.0.{n}")
        rows = stored(engine)
        assert len(rows) == (100 if minute == 0 else 200)
        assert {start for _, start, _ in rows} == {at(minute), at(max(minute - 1, 0))}
    clock.set(at(30))  # long after: the first check sweeps everything that expired
    assert admitted(limit, "addr:192.0.2.1")
    assert stored(engine) == [("addr:192.0.2.1", at(30), 1)]


def test_a_count_is_kept_when_the_request_rolls_back_and_holds_no_lock_meanwhile(
        engine: Engine, replica_engine: Engine, clock: FrozenClock) -> None:
    limit, other = limiter(engine, clock, 5), limiter(replica_engine, clock, 5)
    tx = SharedTransaction(engine)
    with tx.current():  # an API request's transaction
        if engine.dialect.name == "postgresql":
            tx.connection()  # begun (on SQLite its write lock would make the check wait: the check comes first)
        assert admitted(limit, "token:t")
        # Another replica checks the same token while the request is still going on: the counter's row is
        # not locked by the request, so it answers at once.
        done: list[bool] = []
        elsewhere = threading.Thread(target=lambda: done.append(admitted(other, "token:t")))
        elsewhere.start()
        elsewhere.join(timeout=10)
        assert done == [True]
    tx.rollback()  # the request failed (5xx): its attempt still counts
    assert stored(engine) == [("token:t", at(0), 2)]


def test_concurrent_checks_never_admit_more_than_the_limit(engine: Engine, replica_engine: Engine,
                                                            clock: FrozenClock) -> None:
    """8 threads on two replicas × 20 checks of one key, against a limit of 50: exactly 50 pass."""
    limiters = [limiter(engine, clock, 50), limiter(replica_engine, clock, 50)]
    start = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def run(limit: RateLimiter) -> None:
        start.wait()
        mine = [admitted(limit, "token:hot") for _ in range(20)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=run, args=(limiters[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 160 and results.count(True) == 50
    assert stored(engine) == [("token:hot", at(0), 50)]


@pytest.fixture
def replicas(settings: Settings, engine: Engine, replica_engine: Engine,
             clock: FrozenClock) -> Iterator[Callable[[int], TestClient]]:
    """Two control-plane apps on one database, each with its own engine; the n-th request goes to n % 2."""
    apps: list[FastAPI] = [create_app(settings, engine=e, background=False, clock=clock)
                           for e in (engine, replica_engine)]
    clients = [TestClient(a, raise_server_exceptions=False) for a in apps]
    for c in clients:
        c.__enter__()
    try:
        yield lambda n: clients[n % 2]
    finally:
        for c in clients:
            c.__exit__(None, None, None)


def test_replicas_share_the_login_limit(replicas: Callable[[int], TestClient], engine: Engine,
                                        clock: FrozenClock) -> None:
    identity.bootstrap(SqlUnitOfWork(engine, clock), "admin", PASSWORD)
    answers = [replicas(n).post(f"{API}/auth/tokens", json={"login": "admin", "password": "not the password"})
               for n in range(12)]
    assert [a.status_code for a in answers] == [401] * 10 + [429, 429]
    assert "too many logins from here or for this login" in answers[-1].json()["error"]["message"]


def test_replicas_share_the_token_limit(replicas: Callable[[int], TestClient], engine: Engine,
                                        clock: FrozenClock) -> None:
    identity.bootstrap(SqlUnitOfWork(engine, clock), "admin", PASSWORD)
    token = ok(replicas(0).post(f"{API}/auth/tokens", json={"login": "admin", "password": PASSWORD}), 201)["token"]
    admin = {"Authorization": f"Bearer {token}"}
    for n in range(2):  # CIVICLOUD_TOKEN_REQUESTS_PER_MINUTE=10 on both
        app: FastAPI = replicas(n).app  # type: ignore[assignment]
        app.state.settings = app.state.settings.model_copy(update={"token_requests_per_minute": 10})
    # Reads, and changes in the request's own transaction (committed, or refused with 4xx), all count.
    answers = [replicas(n).get(f"{API}/members", headers=admin).status_code for n in range(4)]
    answers += [replicas(n).post(f"{API}/members", headers=admin, json={
        "name": f"Commune {n}", "siren": "219300290", "category": "commune"}).status_code for n in range(4)]
    answers += [replicas(n).post(f"{API}/members", headers=admin, json={"name": "Commune 0", "siren": "219300290",
                                                                        "category": "commune"}).status_code
                for n in range(2)]
    assert answers == [200] * 4 + [201] * 4 + [409] * 2
    limited = [replicas(n).get(f"{API}/members", headers=admin) for n in range(2)]
    assert [error_code(r, 429) for r in limited] == ["civicloud.auth.rate_limited"] * 2
    assert "too many requests with this API token" in limited[1].text
    clock.advance(120)  # two windows later: the token may go on
    assert replicas(0).get(f"{API}/members", headers=admin).status_code == 200


def test_a_tokens_limit_follows_its_roles(replicas: Callable[[int], TestClient], engine: Engine,
                                          clock: FrozenClock) -> None:
    """CIVICLOUD_ROLE_REQUESTS_PER_MINUTE='{"auditor": 12}': an auditor's token stops at 12 a minute, the
    admin's goes on under the default (which lets an integrator's script make hundreds a second)."""
    identity.bootstrap(SqlUnitOfWork(engine, clock), "admin", PASSWORD)
    admin = {"Authorization": "Bearer " + ok(replicas(0).post(f"{API}/auth/tokens", json={
        "login": "admin", "password": PASSWORD}), 201)["token"]}
    ok(replicas(0).post(f"{API}/users", headers=admin, json={"login": "regulator", "password": PASSWORD,
                                                             "roles": ["auditor"]}), 201)
    auditor = {"Authorization": "Bearer " + ok(replicas(0).post(f"{API}/auth/tokens", json={
        "login": "regulator", "password": PASSWORD}), 201)["token"]}
    for n in range(2):
        app: FastAPI = replicas(n).app  # type: ignore[assignment]
        app.state.settings = app.state.settings.model_copy(update={"role_requests_per_minute": {"auditor": 12}})
    assert Settings(role_requests_per_minute={"auditor": 12}).requests_per_minute(["auditor"]) == 12
    assert Settings().requests_per_minute(["member_user"]) >= 100 * 60  # hundreds a second by default
    assert [replicas(n).get(f"{API}/members", headers=auditor).status_code for n in range(13)] == [200] * 12 + [429]
    assert [replicas(n).get(f"{API}/members", headers=admin).status_code for n in range(13)] == [200] * 13


def test_a_large_limit_is_counted_in_leases_and_one_process_admits_it_exactly(engine: Engine,
                                                                             clock: FrozenClock) -> None:
    """A token's limit in the thousands is counted 1 % at a time (services.rate_limits.lease_size): the row
    holds whole leases, yet one process admits exactly the limit — the last checks, where a whole lease no
    longer fits, are counted one by one — and nothing more."""
    limit = limiter(engine, clock, 1_005)  # leases of 10: 100 of them fit, then 5 checks one by one
    assert all(admitted(limit, "token:t") for _ in range(25))
    assert stored(engine) == [("token:t", at(0), 30)]  # three leases taken, 25 checks used
    results = [admitted(limit, "token:t") for _ in range(1_005 - 25 + 3)]
    assert results.count(True) == 1_005 - 25 and results[-3:] == [False, False, False]
    assert stored(engine) == [("token:t", at(0), 1_005)]
    clock.set(at(2, 1))  # a window later the leftover lease of the old window is gone, the limit whole again
    assert admitted(limit, "token:t") and stored(engine)[-1] == ("token:t", at(2), 10)


def test_replicas_with_leases_never_admit_more_than_the_limit(engine: Engine, replica_engine: Engine,
                                                              clock: FrozenClock) -> None:
    """Two processes with leases on one database, in turns and then from threads: together they never admit
    more than the limit, and at most a lease each short of it (the checks a lease holds unused)."""
    one, two = limiter(engine, clock, 2_000), limiter(replica_engine, clock, 2_000)  # leases of 20
    admitted_by: dict[str, int] = {"one": 0, "two": 0}
    lock = threading.Lock()

    def knock(name: str, lim: RateLimiter) -> None:
        for _ in range(1_500):
            if admitted(lim, "token:shared"):
                with lock:
                    admitted_by[name] += 1

    threads = [threading.Thread(target=knock, args=("one", one)), threading.Thread(target=knock, args=("two", two))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    total = admitted_by["one"] + admitted_by["two"]
    assert 2_000 - 2 * 19 <= total <= 2_000, admitted_by
    assert stored(engine) == [("token:shared", at(0), 2_000)]  # every admitted check was counted in the row
