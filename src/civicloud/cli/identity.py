"""Sub-commands of identity: admin bootstrap, login, whoami, user, token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from civicloud.cli.common import (
    DEFAULT_SERVER,
    ServerOpt,
    TokenOpt,
    client,
    console,
    err_console,
    friendly_errors,
    table,
)
from civicloud.domain.identity import Role
from civicloud.errors import InvalidInput
from civicloud.wire import TokenCreate, UserCreate

admin_app = typer.Typer(no_args_is_help=True, help="Set up a new federation.")
user_app = typer.Typer(no_args_is_help=True, help="The federation's users.")
token_app = typer.Typer(no_args_is_help=True, help="Your API tokens.")
PasswordFile = Annotated[Path | None, typer.Option(help="read the password from this file (else from stdin)")]


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.command("login")(login)
    app.command("whoami")(whoami)


def read_password(path: Path | None) -> str:
    """From a file or stdin, never a flag (flags end up in shell histories and process lists)."""
    if path is not None:
        text = path.read_text()
    elif sys.stdin.isatty():
        text = typer.prompt("password", hide_input=True)
    else:
        text = sys.stdin.readline()
    password = text.rstrip("\r\n")
    if not password:
        raise InvalidInput("no password given: pipe it in, or give --password-file", code="civicloud.cli.no_password")
    return password


@admin_app.command("bootstrap")
@friendly_errors
def admin_bootstrap(login: Annotated[str, typer.Option(help="the first federation admin's login")],
                    password_file: PasswordFile = None,
                    data_dir: Annotated[Path | None, typer.Option(help="where civicloud.db lives")] = None) -> None:
    """Create the first federation admin in the database (refused once any user exists)."""
    from civicloud.services.identity import bootstrap
    from civicloud.settings import Settings
    from civicloud.store import SqlUnitOfWork, make_engine, upgrade

    password = read_password(password_file)
    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    settings = Settings(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)  # a new federation: its database may not exist yet
    user = bootstrap(SqlUnitOfWork(engine), login, password)
    console.print(f"federation admin [bold]{user.login}[/] created; get a token with: civicloud login --login "
                  f"{user.login}")


@friendly_errors
def login(login: Annotated[str, typer.Option("--login", help="your login")], password_file: PasswordFile = None,
          name: Annotated[str, typer.Option(help="a name for the token")] = "cli",
          days: Annotated[int, typer.Option(min=1, max=90, help="days before it expires")] = 30,
          role: Annotated[list[Role] | None, typer.Option(help="only these of your roles (repeatable)")] = None,
          server: ServerOpt = DEFAULT_SERVER) -> None:
    """Trade your login and password for an API token (printed once)."""
    password = read_password(password_file)
    with client(server, None) as api:
        created = api.login(TokenCreate(login=login, password=password, name=name, roles=role, ttl_days=days))
    err_console.print(f"token {created.id} ({', '.join(r.value for r in created.roles)}), expires "
                      f"{created.expires_at:%Y-%m-%d}; use it with: export CIVICLOUD_API_TOKEN=…")
    print(created.token)


@friendly_errors
def whoami(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Who the API takes you for."""
    with client(server, token) as api:
        me = api.whoami()
    console.print(f"{me.actor}: {', '.join(r.value for r in me.roles) or 'no role'}"
                  f"{f' of member {me.member_id}' if me.member_id else ''}")


@user_app.command("add")
@friendly_errors
def user_add(login: str, role: Annotated[list[Role], typer.Option(help="a role (repeatable)")],
             member: Annotated[str | None, typer.Option(help="the member (id or name); unset: the operator")] = None,
             password_file: PasswordFile = None, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Add a user (federation admins only); the password is read from a file or stdin."""
    password = read_password(password_file)
    with client(server, token) as api:
        user = api.create_user(UserCreate(login=login, password=password, member_id=member, roles=role))
    console.print(f"user [bold]{user.login}[/] ({', '.join(r.value for r in user.roles)}): {user.id}")


@user_app.command("list")
@friendly_errors
def user_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    with client(server, token) as api:
        rows = [(u.login, ", ".join(r.value for r in u.roles), u.member_id or "operator", u.id)
                for u in api.list_users()]
    console.print(table("Users", ["login", "roles", "member", "id"], rows))


@token_app.command("list")
@friendly_errors
def token_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Your API tokens (never their secrets: those were shown once)."""
    with client(server, token) as api:
        rows = [(t.name, ", ".join(r.value for r in t.roles), f"{t.expires_at:%Y-%m-%d}",
                 "revoked" if t.revoked_at else "active", t.id) for t in api.list_tokens()]
    console.print(table("API tokens", ["name", "roles", "expires", "state", "id"], rows))


@token_app.command("revoke")
@friendly_errors
def token_revoke(token_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    with client(server, token) as api:
        api.revoke_token(token_id)
    console.print(f"token {token_id} revoked")
