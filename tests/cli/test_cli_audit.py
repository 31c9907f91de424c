"""`civicloud audit verify` on the control plane's database: intact, then tampered with."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from civicloud.api import create_app
from civicloud.cli import app
from civicloud.settings import Settings
from civicloud.store import make_engine, upgrade

runner = CliRunner()


def test_audit_verify_names_the_first_broken_entry(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    with TestClient(create_app(settings, engine=engine, background=False)) as client:
        for name in ("Drancy", "Bobigny"):
            siren = "219300290" if name == "Drancy" else "219300084"
            assert client.post("/api/v1/members", json={"name": name, "siren": siren,
                                                        "category": "commune"}).status_code == 201
    env = {"CIVICLOUD_DATABASE_URL": "", "COLUMNS": "200"}
    intact = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)], env=env)
    assert intact.exit_code == 0 and "intact: 2 entries" in intact.output, intact.output
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 200 WHERE seq = 1"))
    broken = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)], env=env)
    assert broken.exit_code == 1 and "broken at entry #1" in broken.output
    engine.dispose()
