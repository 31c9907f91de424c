"""The ``civicloud`` command: server, agent, demo, db, and the resources' sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from civicloud import __version__
from civicloud.cli import billing, identity, resources
from civicloud.cli.common import console, friendly_errors, setup_logging

app = typer.Typer(name="civicloud", no_args_is_help=True, add_completion=False,
                  help="civicloud: a community cloud for local public bodies.")
db_app = typer.Typer(no_args_is_help=True, help="The control plane's database.")
app.add_typer(db_app, name="db")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log: every change, hash-chained.")
app.add_typer(audit_app, name="audit")
resources.register(app)
billing.register(app)
identity.register(app)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="print the version and exit")] = False) -> None:
    if version:
        console.print(f"civicloud {__version__}")
        raise typer.Exit()


@app.command()
@friendly_errors
def server(
    host: Annotated[str | None, typer.Option(help="address to listen on (CIVICLOUD_BIND_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (CIVICLOUD_BIND_PORT)")] = None,
    migrate: Annotated[bool, typer.Option("--migrate", help="apply database migrations before serving")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="where civicloud.db lives (CIVICLOUD_DATA_DIR)")] = None,
    workers: Annotated[int | None, typer.Option(help="API worker processes (CIVICLOUD_API_WORKERS, 2)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the control plane: the REST API (in worker processes) and the control loop (in its own)."""
    from civicloud.cli.serve import run_server
    from civicloud.settings import Settings

    setup_logging(verbose)
    overrides: dict[str, Any] = {k: v for k, v in {"bind_host": host, "bind_port": port, "data_dir": data_dir,
                                                   "api_workers": workers}.items() if v is not None}
    run_server(Settings(**overrides), migrate=migrate)


@audit_app.command("verify")
@friendly_errors
def audit_verify(
    data_dir: Annotated[Path | None, typer.Option(help="where civicloud.db lives (CIVICLOUD_DATA_DIR)")] = None,
) -> None:
    """Check the audit log's hash chain in the database (SQLite file, or CIVICLOUD_DATABASE_URL); exit 1 if broken."""
    from civicloud.domain.identity import Principal, Role
    from civicloud.services.audit import verify
    from civicloud.settings import Settings
    from civicloud.store import SqlUnitOfWork, make_engine

    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    settings = Settings(**overrides)
    engine = make_engine(settings.resolved_database_url())
    # Whoever reads the database itself may read its audit log.
    count, broken = verify(SqlUnitOfWork(engine), Principal("local:database", frozenset({Role.AUDITOR})))
    if broken is not None:
        console.print(f"[bold red]broken[/] at entry #{broken.seq}: {broken.reason} ({count:,} entries read)")
        raise typer.Exit(1)
    console.print(f"audit log intact: {count:,} entries, each following the one before it")


@db_app.command("upgrade")
@friendly_errors
def db_upgrade(
    data_dir: Annotated[Path | None, typer.Option(help="where civicloud.db lives (CIVICLOUD_DATA_DIR)")] = None,
) -> None:
    """Apply the database migrations (SQLite file by default, CIVICLOUD_DATABASE_URL otherwise)."""
    from civicloud.settings import Settings
    from civicloud.store import make_engine, upgrade

    overrides: dict[str, Any] = {"data_dir": data_dir} if data_dir else {}
    settings = Settings(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    console.print(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@app.command()
@friendly_errors
def agent(
    server: Annotated[str, typer.Option("--server", envvar="CIVICLOUD_SERVER_URL", help="URL of the control plane")],
    join_token: Annotated[str | None, typer.Option(envvar="CIVICLOUD_JOIN_TOKEN",
                                                   help="one-time token from 'civicloud site join-token'")] = None,
    libvirt_uri: Annotated[list[str] | None, typer.Option("--libvirt-uri", help="a host to drive (repeatable)")] = None,
    host: Annotated[list[str] | None, typer.Option("--host", help="a named host, NAME=URI (repeatable)")] = None,
    state_dir: Annotated[Path, typer.Option(help="where the site credential and the spool are kept")] = Path(
        "./agent-state"),
    interval: Annotated[float, typer.Option(min=0.1, max=3600, help="seconds between passes")] = 5.0,
    guest_dir: Annotated[Path | None, typer.Option(
        help="the test guest (scripts/build-guest-image.sh) for offerings without an image of their own")] = None,
    image: Annotated[list[str] | None, typer.Option(help="OFFERING=PATH of a base qcow2 (repeatable)")] = None,
    domain_type: Annotated[str, typer.Option(help="kvm, qemu (software emulation) or auto (detect)")] = "auto",
    shutdown_timeout: Annotated[float, typer.Option(min=0, max=3600,
                                                    help="seconds a guest gets to shut down before power-off")] = 30.0,
    sample_interval: Annotated[float, typer.Option(min=1, max=3600,
                                                   help="seconds between usage samples of each guest")] = 60.0,
    ca_file: Annotated[Path | None, typer.Option(help="CA certificate of an https control plane (PEM), when "
                                                      "it is not in the system's store")] = None,
    tunnel_ip: Annotated[str | None, typer.Option(
        help="program this host's tenant networks (bridges, VXLAN, nftables; root), the VXLAN traffic going "
             "from and to this address on the sites' underlay; one host per agent then")] = None,
    underlay_mtu: Annotated[int, typer.Option(min=1280, max=9000, help="the underlay's MTU (the networks get "
                                                                     "50 bytes less)")] = 1500,
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a site's agent: report hosts, pull desired state, reconcile libvirt (and, with --tunnel-ip, the host's
    tenant networks) to it, sample usage. Example: civicloud agent --server https://cloud.example
    --join-token TOKEN --libvirt-uri qemu:///system --tunnel-ip 192.0.2.10"""
    from civicloud.cli.serve import AgentOptions, run_agent

    setup_logging(verbose)
    run_agent(server, join_token, libvirt_uri or [], host or [], state_dir, interval, once,
              AgentOptions(guest_dir, image or [], domain_type, shutdown_timeout, sample_interval, ca_file,
                           tunnel_ip, underlay_mtu))


@app.command()
@friendly_errors
def demo(
    once: Annotated[bool, typer.Option("--once", help="run the scenario, exit 0 if the VM runs")] = False,
    port: Annotated[int, typer.Option(help="port for the demo's API (0: any free port)")] = 8750,
    data_dir: Annotated[Path | None, typer.Option(help="keep the demo's data here instead of a temporary dir")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the VM to run")] = 60.0,
) -> None:
    """A local community cloud: Drancy lends, Bobigny borrows, on libvirt test hypervisors."""
    from civicloud.cli.demo import run_demo

    raise typer.Exit(run_demo(once=once, port=port, data_dir=data_dir, timeout=timeout))


def main() -> None:
    app()
