"""Bootstrap the first admin, log in, add a user, list and revoke tokens — from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloud.cli import app
from civicloud.cli.demo import free_port
from civicloud.cli.serve import ThreadedServer
from civicloud.client import ApiClient
from civicloud.settings import Settings

runner = CliRunner()
PASSWORD = "correct horse battery staple\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    settings = Settings(data_dir=tmp_path, database_url=None, bind_port=free_port(0), placement_interval_s=5)
    threaded = ThreadedServer(settings)
    threaded.start()
    yield threaded.url, tmp_path
    threaded.stop()


def cli(*args: str, token: str | None = None, stdin: str | None = None):  # type: ignore[no-untyped-def]
    env = {"COLUMNS": "200", "CIVICLOUD_DATABASE_URL": "", "CIVICLOUD_API_TOKEN": token or ""}
    return runner.invoke(app, list(args), env=env, input=stdin)


def test_bootstrap_login_and_tokens(server: tuple[str, Path], tmp_path: Path) -> None:
    url, data_dir = server
    boot = cli("admin", "bootstrap", "--login", "admin", "--data-dir", str(data_dir), stdin=PASSWORD)
    assert boot.exit_code == 0 and "federation admin admin created" in boot.output, boot.output
    again = cli("admin", "bootstrap", "--login", "other", "--data-dir", str(data_dir), stdin=PASSWORD)
    assert again.exit_code == 1 and "civicloud.user.already_bootstrapped" in again.output
    assert cli("member", "list", "--server", url).exit_code == 1  # the open mode ended with the first user

    logged = cli("login", "--login", "admin", "--server", url, stdin=PASSWORD)
    assert logged.exit_code == 0, logged.output
    token = logged.stdout.strip().splitlines()[-1]
    assert token.startswith("cct_")
    me = cli("whoami", "--server", url, token=token)
    assert me.exit_code == 0 and "user:admin: federation_admin" in me.output
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    added = cli("user", "add", "cnil", "--role", "auditor", "--password-file", str(pw), "--server", url, token=token)
    assert added.exit_code == 0 and "user cnil (auditor)" in added.output
    listed = cli("token", "list", "--server", url, token=token)
    assert listed.exit_code == 0 and "active" in listed.output
    with ApiClient(url, token=token) as api:
        [mine] = api.list_tokens()
    assert mine.id in listed.output  # ids are never cut
    revoked = cli("token", "revoke", mine.id, "--server", url, token=token)
    assert revoked.exit_code == 0 and f"token {mine.id} revoked" in revoked.output
    after = cli("whoami", "--server", url, token=token)
    assert after.exit_code == 1 and "civicloud.auth.invalid_token" in after.output
    wrong = cli("login", "--login", "admin", "--server", url, stdin="not the password\n")
    assert wrong.exit_code == 1 and "civicloud.auth.bad_login" in wrong.output


def test_a_server_without_users_or_token_stays_on_loopback(tmp_path: Path) -> None:
    from civicloud.cli.serve import refuse_open_api
    from civicloud.errors import InvalidInput
    from civicloud.services.identity import bootstrap
    from civicloud.store import SqlUnitOfWork, make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    public = Settings(data_dir=tmp_path, bind_host="0.0.0.0")
    with pytest.raises(InvalidInput) as refused:
        refuse_open_api(public, engine)
    assert refused.value.code == "civicloud.server.open_api" and "admin bootstrap" in refused.value.message
    refuse_open_api(Settings(data_dir=tmp_path), engine)  # loopback: the open mode is for bootstrapping
    refuse_open_api(public.model_copy(update={"api_token": "x" * 40}), engine)
    bootstrap(SqlUnitOfWork(engine), "admin", PASSWORD.strip())
    refuse_open_api(public, engine)  # users exist: every request needs a token, the address may be public
    engine.dispose()
