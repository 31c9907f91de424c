"""civicloud member …: the members of the federation."""

from __future__ import annotations

import typer

from civicloud.cli.common import (
    DEFAULT_SERVER,
    ServerOpt,
    TokenOpt,
    client,
    console,
    friendly_errors,
    table,
)

member_app = typer.Typer(no_args_is_help=True, help="Members of the federation.")


@member_app.command("list")
@friendly_errors
def member_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List the members."""
    with client(server, token) as api:
        rows = [(m.name, m.category.value, m.siren, m.id) for m in api.list_members()]
    console.print(table("Members", ["name", "category", "SIREN", "id"], rows))
