"""civicloud workload …: the virtual machines a member asked for."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from civicloud.cli.common import (
    DEFAULT_SERVER,
    ServerOpt,
    TokenOpt,
    client,
    console,
    friendly_errors,
    styled_state,
    table,
)
from civicloud.client import ApiClient
from civicloud.errors import Unavailable
from civicloud.wire import NicIn, ResidencyIn, WorkloadCreate, WorkloadOut

workload_app = typer.Typer(no_args_is_help=True, help="Virtual machines a member asked for.")


@workload_app.command("create")
@friendly_errors
def workload_create(
    name: Annotated[str, typer.Argument(help="a name for the VM, unique within the member")],
    member: Annotated[str, typer.Option(help="the borrowing member (id or name)")],
    offering: Annotated[str, typer.Option(help="catalogue offering (id or name)")],
    group: Annotated[str | None, typer.Option(help="a placement group of the member (id or name)")] = None,
    region: Annotated[list[str] | None, typer.Option(help="keep the data in this INSEE region (repeatable)")] = None,
    department: Annotated[list[str] | None, typer.Option(help="keep the data in this département")] = None,
    network: Annotated[list[str] | None, typer.Option(
        help="a NIC on this network of the member, NAME or NAME=ADDRESS (repeatable; default: its 'default' "
             "network)")] = None,
    no_network: Annotated[bool, typer.Option("--no-network", help="no NIC at all")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait until it runs")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 120.0,
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Ask for a VM; by default wait until it runs, showing its progress. Example: civicloud workload create compta
    --member Bobigny --offering vm-small --network office=10.20.0.10"""
    residency = ResidencyIn(regions=region or [], departments=department or []) if region or department else None
    nics = [] if no_network else [NicIn(network=n.partition("=")[0], fixed_ip=n.partition("=")[2] or None)
                                  for n in network] if network else None
    with client(server, token) as api:
        member_id = api.get_member(member).id
        workload = api.create_workload(WorkloadCreate(member_id=member_id, offering_id=offering, name=name,
                                                      group=group, residency=residency, networks=nics))
        console.print(f"workload [bold]{workload.name}[/] accepted: {workload.id}")
        if wait:
            workload = wait_for_state(api, workload.id, {"running"}, timeout)
    show_workload(workload)
    if workload.state.value == "pending" and workload.placement is not None:
        show_explanation(workload)
    if wait and workload.state.value != "running":
        raise typer.Exit(1)


def wait_for_state(api: ApiClient, workload_id: str, targets: set[str], timeout: float) -> WorkloadOut:
    """Poll with a spinner until the workload reaches a target state, fails, or time runs out."""
    deadline = time.monotonic() + timeout
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("waiting", total=None)
        while True:
            try:
                workload = api.get_workload(workload_id)
            except Unavailable:
                workload = None  # a control plane restart is not the end of the wait
            if workload is not None:
                progress.update(task, description=f"{workload.name}: {workload.state.value} — {workload.message}")
                if workload.state.value in targets or workload.state.value == "failed":
                    return workload
            if time.monotonic() > deadline:
                if workload is None:
                    raise Unavailable("the control plane stayed out of reach while waiting")
                return workload
            time.sleep(0.25)


def show_workload(w: WorkloadOut) -> None:
    rows = [("id", w.id), ("name", w.name), ("state", styled_state(w.state.value)), ("desired", w.desired.value),
            ("lender", f"{w.lender_name} — {w.site_name}" if w.site_name else "—"),
            *((f"nic {i}", f"{n.ip} ({n.mac})") for i, n in enumerate(w.nics)),
            *([("host", w.host_id)] if w.host_id else []), ("why", w.message),
            ("created", f"{w.created_at:%Y-%m-%d %H:%M:%S} UTC")]
    if w.evict_deadline is not None:
        rows.insert(3, ("evicted at", f"{w.evict_deadline:%Y-%m-%d %H:%M:%S} UTC, unless re-placed first"))
    console.print(table(f"Workload {w.name}", ["", ""], rows))


def show_explanation(w: WorkloadOut) -> None:
    if w.placement is None:
        console.print(f"{w.name} is {w.state.value}: {w.message}")
        return
    rows = [(r.filter, r.code, r.text, f"{r.hosts:,}") for r in w.placement.reasons]
    console.print(table(f"Why {w.name} is not placed — {w.placement.summary} "
                        f"(decided {w.placement.decided_at:%H:%M:%S} UTC)", ["filter", "reason", "meaning", "hosts"],
                        rows))


@workload_app.command("explain")
@friendly_errors
def workload_explain(workload_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Why a workload is pending: how many hosts each placement filter left out, and why."""
    with client(server, token) as api:
        w = api.get_workload(workload_id)
    if w.state.value != "pending":
        console.print(f"{w.name} is {w.state.value}: {w.message}")
        return
    show_explanation(w)


@workload_app.command("list")
@friendly_errors
def workload_list(member: Annotated[str | None, typer.Option(help="only this member's (id or name)")] = None,
                  all_: Annotated[bool, typer.Option("--all", help="include deleted workloads")] = False,
                  server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List workloads."""
    with client(server, token) as api:
        members = {m.id: m.name for m in api.list_members()}
        hosts = {h.id: h.name for h in api.list_hosts()}
        member_id = api.get_member(member).id if member else None
        rows = [(w.name, members.get(w.member_id, w.member_id), styled_state(w.state.value),
                 hosts.get(w.host_id or "", w.site_name or "—"), w.id)
                for w in api.list_workloads(member_id=member_id, include_deleted=all_)]
    # A borrower is not shown its lenders' hosts: the lending site stands in their place.
    console.print(table("Workloads", ["name", "member", "state", "host or site", "id"], rows))


@workload_app.command("show")
@friendly_errors
def workload_show(workload_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Show one workload, with why it is where it is."""
    with client(server, token) as api:
        show_workload(api.get_workload(workload_id))


@workload_app.command("delete")
@friendly_errors
def workload_delete(workload_id: str,
                    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="wait until it is gone")] = False,
                    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 120.0,
                    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Delete a workload; its site's agent removes the VM."""
    with client(server, token) as api:
        workload = api.delete_workload(workload_id)
        if wait:
            workload = wait_for_state(api, workload_id, {"deleted"}, timeout)
    show_workload(workload)


@workload_app.command("stop")
@friendly_errors
def workload_stop(workload_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Power a workload off (it keeps its place)."""
    with client(server, token) as api:
        show_workload(api.stop_workload(workload_id))


@workload_app.command("start")
@friendly_errors
def workload_start(workload_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Power a stopped workload on again."""
    with client(server, token) as api:
        show_workload(api.start_workload(workload_id))


@workload_app.command("reboot")
@friendly_errors
def workload_reboot(workload_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Power-cycle a running workload: graceful shutdown (power-off after a timeout), then start."""
    with client(server, token) as api:
        show_workload(api.reboot_workload(workload_id))


@workload_app.command("resize")
@friendly_errors
def workload_resize(workload_id: str, offering: Annotated[str, typer.Argument(help="offering to resize to")],
                    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Give a stopped workload another offering of its class; it starts with the new size."""
    with client(server, token) as api:
        show_workload(api.resize_workload(workload_id, offering))


@workload_app.command("samples")
@friendly_errors
def workload_samples(workload_id: str,
                     limit: Annotated[int, typer.Option(min=1, max=1000, help="at most this many, newest first")] = 20,
                     server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """What the workload's host measured of it: CPU time, memory, disk and network counters."""
    with client(server, token) as api:
        samples = api.workload_samples(workload_id, limit)
    rows = [(f"{s.sampled_at:%Y-%m-%d %H:%M:%S}", f"{s.cpu_time_ns / 1e9:,.1f}", f"{s.memory_mib:,}",
             "—" if s.memory_used_mib is None else f"{s.memory_used_mib:,}", f"{s.disk_read_bytes:,}",
             f"{s.disk_write_bytes:,}", f"{s.net_rx_bytes:,}", f"{s.net_tx_bytes:,}") for s in samples]
    console.print(table(f"Usage samples of {workload_id} (cumulative counters)",
                        ["sampled (UTC)", "CPU s", "memory MiB", "used MiB", "disk read B", "disk written B",
                         "net in B", "net out B"], rows))
