"""civicloud host …: the hosts the agents reported, the owner's reserve and the power model."""

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
from civicloud.wire import HostPowerSet, HostReserveSet

host_app = typer.Typer(no_args_is_help=True, help="Hosts reported by the sites' agents.")


@host_app.command("list")
@friendly_errors
def host_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List hosts with their capacity: total, the owner's own load, lent share, allocated, free, CPU load."""
    with client(server, token) as api:
        sites = {s.id: s.name for s in api.list_sites()}
        rows = [(h.name, sites.get(h.site_id, h.site_id), f"{h.total.vcpus} / {h.total.memory_mib} MiB",
                 f"{h.owner_used.vcpus} / {h.owner_used.memory_mib} MiB", f"{h.lend_share_percent:g} %",
                 f"{h.allocated.vcpus} / {h.allocated.memory_mib} MiB", f"{h.free.vcpus} / {h.free.memory_mib} MiB",
                 "—" if h.cpu_busy_percent is None else f"{h.cpu_busy_percent:g} %", h.id) for h in api.list_hosts()]
    console.print(table("Hosts (vCPU / memory)", ["name", "site", "total", "owner's own", "lends", "allocated",
                                                  "free", "CPU load", "id"], rows))


@host_app.command("reserve")
@friendly_errors
def host_reserve(host_id: Annotated[str, typer.Argument(help="host id")],
                 vcpus: Annotated[int, typer.Option(help="vCPUs the owner keeps")] = 0,
                 memory_mib: Annotated[int, typer.Option(help="MiB the owner keeps")] = 0,
                 disk_gib: Annotated[int, typer.Option(help="GiB the owner keeps")] = 0,
                 cpu_ratio: Annotated[float, typer.Option(help="vCPU overcommit of the rest")] = 4.0,
                 ram_ratio: Annotated[float, typer.Option(help="memory overcommit of the rest")] = 1.0,
                 server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Set what the owner keeps on a host (never lent) and the allocation ratios."""
    with client(server, token) as api:
        h = api.set_host_reserve(host_id, HostReserveSet(reserved_vcpus=vcpus, reserved_memory_mib=memory_mib,
                                                         reserved_disk_gib=disk_gib, cpu_ratio=cpu_ratio,
                                                         ram_ratio=ram_ratio))
    console.print(f"{h.name}: reserves {h.reserved.vcpus} vCPU / {h.reserved.memory_mib} MiB, ratios "
                  f"{h.ratios.cpu:g}/{h.ratios.ram:g}; free now {h.free.vcpus} vCPU / {h.free.memory_mib} MiB")


@host_app.command("power")
@friendly_errors
def host_power(host_id: Annotated[str, typer.Argument(help="host id")],
               idle_watts: Annotated[float, typer.Option(help="draw at idle, W")],
               max_watts: Annotated[float, typer.Option(help="draw at full CPU load, W")],
               server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Set a host's power model (showback's energy and CO₂ figures)."""
    with client(server, token) as api:
        h = api.set_host_power(host_id, HostPowerSet(idle_watts=idle_watts, max_watts=max_watts))
    console.print(f"{h.name}: {h.idle_watts:g} W at idle, {h.max_watts:g} W at full load")
