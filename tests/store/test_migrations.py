"""Alembic migrations produce exactly the schema of store/tables.py, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

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


def test_0007_keeps_sites_that_other_rows_refer_to(engine: Engine) -> None:
    """Moving the site-name constraint makes SQLite copy the sites table: with hosts, offers and
    certifications referring to a site, that must neither fail on the foreign keys nor lose a row."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO members (id, name, siren, category, created_at) "
                          "VALUES ('m1', 'Drancy', '219300290', 'commune', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO sites (id, member_id, name, insee_code, timezone, created_at) "
                          "VALUES ('s1', 'm1', 'drancy-mairie', '93029', 'Europe/Paris', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO certifications (id, site_id, kind, activities, expires_on) "
                          "VALUES ('c1', 's1', 'hds', '1,2', '2030-01-01')"))
        conn.execute(text("INSERT INTO offers (id, site_id, committed_percent, default_percent, windows, "
                          "reclaim_notice_s, updated_at) VALUES ('o1', 's1', 0, 50, '[]', 30, '2026-01-01 00:00:00')"))
    upgrade(engine)
    assert schema_diff(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT site_id FROM offers")).scalars().all() == ["s1"]
        # Certifications from before attestations existed are left proposed: the operator attests them.
        assert conn.execute(text("SELECT site_id, attested_at FROM certifications")).all() == [("s1", None)]
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # enforced again afterwards
