"""Settings: one object, from CIVICLOUD_* variables or arguments."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from civicloud.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CIVICLOUD_"):
            monkeypatch.delenv(name)


def test_embedded_default_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url is None
    assert settings.resolved_database_url() == f"sqlite:///{(tmp_path / 'civicloud.db').resolve()}"


@pytest.mark.parametrize("blank", ["", None])
def test_a_blank_database_url_means_the_default(tmp_path: Path, blank: str | None) -> None:
    assert Settings(data_dir=tmp_path, database_url=blank).resolved_database_url().startswith("sqlite:///")


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOUD_DATABASE_URL", "postgresql+psycopg://civicloud@db/civicloud")
    monkeypatch.setenv("CIVICLOUD_API_TOKEN", "t0ken")
    monkeypatch.setenv("CIVICLOUD_BIND_PORT", "9000")
    monkeypatch.setenv("CIVICLOUD_SOMETHING_UNKNOWN", "ignored")
    settings = Settings()
    assert settings.resolved_database_url() == "postgresql+psycopg://civicloud@db/civicloud"
    assert settings.api_token == "t0ken"
    assert settings.api_url == "http://127.0.0.1:9000"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOUD_API_TOKEN", "from-env")
    assert Settings(api_token=None).api_token is None


@pytest.mark.parametrize(("field", "value"), [
    ("bind_port", 0), ("bind_port", 65536), ("placement_interval_s", 0), ("host_stale_after_s", -1),
    ("join_token_ttl_s", 0), ("join_token_ttl_s", 31 * 86400), ("claim_retries", 0),
])
def test_out_of_range_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})
