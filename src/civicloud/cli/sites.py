"""civicloud site …: sites, their agents' join tokens and credentials (offers, certifications: their modules)."""

from __future__ import annotations

from typing import Annotated

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

site_app = typer.Typer(no_args_is_help=True, help="Sites (server rooms) and their agents.")


@site_app.command("list")
@friendly_errors
def site_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List the sites with their offer and certifications."""
    with client(server, token) as api:
        owners = {m.id: m.name for m in api.list_members()}
        rows = [(s.name, owners.get(s.member_id, s.member_id), s.insee_code,
                 f"{api.get_offer(s.id).lent_now_percent:g} %",
                 ", ".join(f"{c.kind.value}{''.join(map(str, c.activities))} → {c.expires_on}"
                           f"{'' if c.attested else ' (proposed)'}" for c in s.certifications), s.id)
                for s in api.list_sites()]
    console.print(table("Sites", ["name", "member", "INSEE", "lends now", "certifications", "id"], rows))


@site_app.command("revoke-agents")
@friendly_errors
def site_revoke_agents(site: Annotated[str, typer.Argument(help="site id or name")],
                       server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Revoke the credentials of every agent of a site; they must join again with a new token."""
    with client(server, token) as api:
        revoked = api.revoke_site_agents(site)
    console.print(f"revoked {revoked} agent credential(s); issue a new join token for the site's agent")


@site_app.command("join-token")
@friendly_errors
def site_join_token(site: Annotated[str, typer.Argument(help="site id or name")],
                    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Issue a one-time token for the site's agent to join with (shown once)."""
    with client(server, token) as api:
        issued = api.issue_join_token(site)
    console.print(issued.token, soft_wrap=True, highlight=False)
    console.print(f"[dim]valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC, once. On the site's libvirt host:[/]\n"
                  f"[dim]  civicloud agent --server {server} --join-token <token> --libvirt-uri qemu:///system[/]",
                  highlight=False)
