"""civicloud offering …: the catalogue."""

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

offering_app = typer.Typer(no_args_is_help=True, help="The service catalogue.")


@offering_app.command("list")
@friendly_errors
def offering_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List the catalogue."""
    with client(server, token) as api:
        rows = [(o.name, o.vcpus, o.memory_mib, o.disk_gib, o.service_class.value, o.description)
                for o in api.list_offerings()]
    console.print(table("Offerings", ["name", "vCPU", "MiB", "GiB", "class", "description"], rows))
