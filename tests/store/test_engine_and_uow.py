"""Engines and the unit of work: database errors leave as civicloud errors with stable codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicloud.api import create_app
from civicloud.domain import Member, MemberCategory
from civicloud.errors import InvalidInput, Unavailable
from civicloud.settings import Settings
from civicloud.store import SqlUnitOfWork, UnitOfWork, make_engine

from store_scene import NOW, new_id

Uows = Callable[[], UnitOfWork]
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/civicloud?connect_timeout=2"


@pytest.mark.parametrize("url", ["not a url", "mysql+pymysql://root@localhost/civicloud", "oracle://x"])
def test_unsupported_database_urls(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        make_engine(url)
    assert info.value.code == "civicloud.settings.invalid_database_url"


def test_sqlite_runs_with_foreign_keys_and_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_an_unreachable_database_is_unavailable() -> None:
    engine = make_engine(UNREACHABLE)
    try:
        with pytest.raises(Unavailable) as info, SqlUnitOfWork(engine):
            pass
        assert info.value.code == "civicloud.store.unavailable"
        app = create_app(Settings(database_url=UNREACHABLE), engine=engine, background=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.get("/api/v1/members")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "civicloud.store.unavailable"
    finally:
        engine.dispose()


def test_nothing_is_kept_without_commit(uow_factory: Uows) -> None:
    with uow_factory() as uow:
        uow.members.add(Member(new_id(), "Drancy", "219300290", None, MemberCategory.COMMUNE, NOW))
    with uow_factory() as uow:
        assert uow.members.list() == []


def test_an_error_rolls_back_everything_before_it(uow_factory: Uows) -> None:
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.members.add(Member(new_id(), "Drancy", "219300290", None, MemberCategory.COMMUNE, NOW))
        raise RuntimeError("a bug half-way through a use case")
    with uow_factory() as uow:
        assert uow.members.list() == []


def test_the_unit_of_work_can_be_used_again(uow_factory: Uows) -> None:
    uow = uow_factory()
    with uow:
        uow.members.add(Member(new_id(), "Drancy", "219300290", None, MemberCategory.COMMUNE, NOW))
        uow.commit()
    with uow:
        assert [m.name for m in uow.members.list()] == ["Drancy"]


@pytest.mark.parametrize(("case", "name", "siren"), [
    ("NUL byte in text", "Dran\x00cy", "219300290"),
    ("longer than the column", "Drancy", "2193002900"),
])
def test_values_postgresql_cannot_hold_are_invalid_input(engine: Engine, uow_factory: Uows, case: str, name: str,
                                                         siren: str) -> None:
    """The API refuses these first; should one slip through, PostgreSQL's refusal is a 422, never a 500.

    SQLite stores both (it neither checks VARCHAR lengths nor minds NUL bytes).
    """
    member = Member(new_id(), name, siren, None, MemberCategory.COMMUNE, NOW)
    if engine.dialect.name == "sqlite":
        with uow_factory() as uow:
            uow.members.add(member)
            uow.commit()
        with uow_factory() as uow:
            assert uow.members.get(member.id) == member
        return
    with pytest.raises(InvalidInput) as info, uow_factory() as uow:
        uow.members.add(member)
        uow.commit()
    assert info.value.code == "civicloud.store.value_out_of_range"


def test_a_signal_reaches_its_listener_once_the_change_is_committed(engine: Engine) -> None:
    """``uow.signal``: the control loop is woken by what the services commit, never by what rolls back, and
    inside a request's transaction only once the whole request is committed."""
    from civicloud.domain.events import ROOM_CHANGED
    from civicloud.store import SharedTransaction

    woken: list[str] = []
    listeners = {ROOM_CHANGED: lambda: woken.append("woken")}
    with SqlUnitOfWork(engine, listeners=listeners) as uow:
        uow.signal(ROOM_CHANGED)
        uow.signal(ROOM_CHANGED)
        uow.signal("nobody_listens")
        uow.commit()
    assert woken == ["woken"]  # once per commit, whatever the number of signals
    with SqlUnitOfWork(engine, listeners=listeners) as uow:
        uow.signal(ROOM_CHANGED)
        uow.rollback()
        uow.commit()
    with SqlUnitOfWork(engine, listeners=listeners) as uow:
        uow.signal(ROOM_CHANGED)  # left without commit
    assert woken == ["woken"]
    tx = SharedTransaction(engine)
    with tx.current():
        with SqlUnitOfWork(engine, listeners=listeners) as uow:
            uow.signal(ROOM_CHANGED)
            uow.commit()
        assert woken == ["woken"]  # the request is not committed yet
        tx.commit()
    assert woken == ["woken", "woken"]
    tx = SharedTransaction(engine)
    with tx.current():
        with SqlUnitOfWork(engine, listeners=listeners) as uow:
            uow.signal(ROOM_CHANGED)
            uow.commit()
        tx.rollback()  # the request failed: nothing happened, nobody is woken
    assert woken == ["woken", "woken"]
