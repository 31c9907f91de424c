"""Apply Alembic migrations programmatically (``civicloud db upgrade``, ``server --migrate``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

from civicloud.errors import Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# Any constant will do; it only has to be the same for every replica of the control plane.
_MIGRATION_LOCK = 7_302_912_026


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``. On PostgreSQL an advisory lock makes replicas started together take turns."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with _reachable(engine), engine.connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:  # raised inside the transaction: nothing of the migration is kept
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


@contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite changes a table's constraints by copying the table, dropping it and renaming the copy
    (Alembic's batch mode); enforced foreign keys make the drop fail as soon as a row refers to the
    table. SQLite's own procedure: foreign keys off outside the transaction, ``foreign_key_check``
    before the commit, then on again."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection  # not conn.execute: that would begin the transaction first
    assert raw is not None
    raw.cursor().execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.cursor().execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    with _reachable(engine), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _reachable(engine: Engine) -> Iterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise Unavailable(f"cannot reach the database at {engine.url.render_as_string(hide_password=True)} "
                          f"({type(exc.orig).__name__}); check CIVICLOUD_DATABASE_URL and that the server is up",
                          code="civicloud.store.unavailable") from None


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
