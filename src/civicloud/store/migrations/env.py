"""Alembic environment: runs on the connection civicloud hands over (see store/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from civicloud.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the plain `alembic` command line, for engineers writing a migration
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("the Alembic configuration has no sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
