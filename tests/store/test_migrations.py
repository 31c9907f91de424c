"""Alembic migrations produce exactly the schema of store/tables.py, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from civicloud.store import is_up_to_date, upgrade
from civicloud.store.migrate import alembic_config, current_revision, head_revision
from civicloud.store.tables import metadata


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(ctx, metadata))


def partial_indexes(engine: Engine) -> dict[str, tuple[list[str], bool]]:
    insp = inspect(engine)
    return {ix["name"]: (list(ix["column_names"]), bool(ix["unique"]))
            for table in ("workloads", "allocations", "offers") for ix in insp.get_indexes(table)
            if ix["name"] and ix["name"].startswith("uq_")}


def test_migrated_schema_is_the_metadata(engine: Engine) -> None:
    assert schema_diff(engine) == []
    assert is_up_to_date(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}


def test_partial_unique_indexes_exist(engine: Engine) -> None:
    # compare_metadata does not compare index predicates; check the indexes themselves.
    assert partial_indexes(engine) == {
        "uq_workloads_member_id_name_live": (["member_id", "name"], True),
        "uq_allocations_workload_id_open": (["workload_id"], True),
        "uq_offers_site_id_site_wide": (["site_id"], True),
        "uq_offers_host_id": (["host_id"], True),
    }


def test_upgrade_twice_is_harmless(engine: Engine) -> None:
    upgrade(engine)
    assert schema_diff(engine) == []


def test_downgrade_to_base_then_upgrade_again(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert not is_up_to_date(engine)
    upgrade(engine)
    assert schema_diff(engine) == []
