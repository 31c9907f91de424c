"""civicloud network … and civicloud security-group …: a member's tenant networks and the rules on its ports."""

from __future__ import annotations

from typing import Annotated

import typer

from civicloud.cli.common import DEFAULT_SERVER, ServerOpt, TokenOpt, client, console, friendly_errors, table
from civicloud.domain.networks import Direction, Protocol
from civicloud.wire import (
    NetworkCreate,
    NetworkOut,
    RuleIn,
    RuleOut,
    SecurityGroupCreate,
    SecurityGroupOut,
    SubnetIn,
)

network_app = typer.Typer(no_args_is_help=True, help="A member's tenant networks: its VMs' own segments.")
security_group_app = typer.Typer(no_args_is_help=True, help="Security groups: what may reach a member's VMs.")


@network_app.command("create")
@friendly_errors
def network_create(
    name: Annotated[str, typer.Argument(help="a name, unique within the member")],
    member: Annotated[str, typer.Option(help="the member whose network it is (id or name)")],
    cidr: Annotated[list[str], typer.Option(help="a subnet, a.b.c.d/n from /16 to /29 (repeatable)")],
    gateway: Annotated[str | None, typer.Option(help="the first subnet's gateway (its first address if not given)")]
    = None,
    dns: Annotated[list[str] | None, typer.Option(help="a DNS server of the first subnet (repeatable)")] = None,
    internet_egress: Annotated[bool, typer.Option(help="its VMs reach the internet through their lender")] = False,
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Create a network. Example: civicloud network create office --member Bobigny --cidr 10.20.0.0/24"""
    subnets = [SubnetIn(cidr=c, gateway=gateway if i == 0 else None, dns=(dns or []) if i == 0 else [])
               for i, c in enumerate(cidr)]
    with client(server, token) as api:
        show_network(api.create_network(NetworkCreate(member_id=member, name=name, subnets=subnets,
                                                      internet_egress=internet_egress)))


def show_network(n: NetworkOut) -> None:
    rows = [("id", n.id), ("name", n.name), ("VNI", str(n.vni)),
            *((f"subnet {s.cidr}", f"gateway {s.gateway}, {s.capacity:,} addresses"
               + (f", DNS {' '.join(s.dns)}" if s.dns else "")) for s in n.subnets),
            ("internet egress", "yes" if n.internet_egress else "no"), ("ports", str(n.ports))]
    console.print(table(f"Network {n.name}", ["", ""], rows))


@network_app.command("list")
@friendly_errors
def network_list(member: Annotated[str | None, typer.Option(help="only this member's (id or name)")] = None,
                 server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List networks: name, subnets, VNI, live ports."""
    with client(server, token) as api:
        rows = [(n.name, " ".join(s.cidr for s in n.subnets), n.vni, n.ports, n.id)
                for n in api.list_networks(member)]
    console.print(table("Networks", ["name", "subnets", "VNI", "ports", "id"], rows))


@network_app.command("show")
@friendly_errors
def network_show(network: Annotated[str, typer.Argument(help="the network's id (or name, for a member's staff)")],
                 server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Show a network, the hosts holding it (site, lender, tunnel endpoint, what their agents applied) and its
    ports (workload, address, MAC)."""
    with client(server, token) as api:
        n = api.get_network(network)
        ports = api.list_ports(network_id=n.id)
    show_network(n)
    if n.hosts:
        console.print(table(f"Hosts holding {n.name}", ["site", "lender", "host", "tunnel", "ports", "data plane"],
                            [(h.site_name, h.lender_name, h.host_name or "—", h.tunnel_ip or "—", h.ports,
                              h.data_plane + (f": {'; '.join(h.errors)}" if h.errors else ""))
                             for h in n.hosts]))
    if ports:
        console.print(table(f"Ports of {n.name}", ["address", "MAC", "workload", "id"],
                            [(p.ip, p.mac, p.workload_id, p.id) for p in ports]))


@network_app.command("delete")
@friendly_errors
def network_delete(network: Annotated[str, typer.Argument(help="the network's id (or name, for a member's staff)")],
                   server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Delete a network no live workload uses (else the error names its ports)."""
    with client(server, token) as api:
        api.delete_network(network)
    console.print(f"network {network} deleted")


@security_group_app.command("create")
@friendly_errors
def group_create(name: Annotated[str, typer.Argument(help="a name, unique within the member")],
                 member: Annotated[str, typer.Option(help="the member whose group it is (id or name)")],
                 description: Annotated[str, typer.Option(help="what it is for")] = "",
                 server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Create a security group (with one rule: all egress). Example: civicloud security-group create web --member
    Bobigny"""
    with client(server, token) as api:
        show_group(api.create_security_group(SecurityGroupCreate(member_id=member, name=name,
                                                                 description=description)))


def show_group(g: SecurityGroupOut) -> None:
    def ports(r: RuleOut) -> str:
        lo, hi = r.port_min, r.port_max
        return "all" if lo is None else str(lo) if lo == hi else f"{lo}-{hi}"

    rows = [(r.direction.value, r.protocol.value, ports(r), r.remote_cidr or r.remote_group_id or "anywhere", r.id)
            for r in g.rules]
    console.print(table(f"Security group {g.name} ({g.id})", ["direction", "protocol", "ports", "remote", "id"], rows))


@security_group_app.command("list")
@friendly_errors
def group_list(member: Annotated[str | None, typer.Option(help="only this member's (id or name)")] = None,
               server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List security groups."""
    with client(server, token) as api:
        rows = [(g.name, len(g.rules), g.description, g.id) for g in api.list_security_groups(member)]
    console.print(table("Security groups", ["name", "rules", "description", "id"], rows))


@security_group_app.command("show")
@friendly_errors
def group_show(group: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Show a security group's rules."""
    with client(server, token) as api:
        show_group(api.get_security_group(group))


@security_group_app.command("add-rule")
@friendly_errors
def group_add_rule(
    group: Annotated[str, typer.Argument(help="the group's id (or name, for a member's staff)")],
    direction: Annotated[Direction, typer.Option(help="ingress (to the VM) or egress (from it)")] = Direction.INGRESS,
    protocol: Annotated[Protocol, typer.Option(help="any, tcp, udp or icmp")] = Protocol.TCP,
    port: Annotated[str | None, typer.Option(help="a port or a range, e.g. 8080 or 8000-8099 (tcp, udp)")] = None,
    remote_cidr: Annotated[str | None, typer.Option(help="from (or to) this network, e.g. 192.168.1.0/24")] = None,
    remote_group: Annotated[str | None, typer.Option(help="from (or to) the ports of this group")] = None,
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Allow traffic. Example: civicloud security-group add-rule web --port 8080 --remote-cidr 192.168.1.0/24"""
    lo = hi = None
    if port:
        first, _, last = port.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise typer.BadParameter(f"{port!r}: give a port (8080) or a range (8000-8099)", param_hint="--port")
        lo, hi = int(first), int(last) if last else None
    with client(server, token) as api:
        show_group(api.add_security_rule(group, RuleIn(direction=direction, protocol=protocol, port_min=lo,
                                                       port_max=hi, remote_cidr=remote_cidr,
                                                       remote_group=remote_group)))


@security_group_app.command("delete-rule")
@friendly_errors
def group_delete_rule(group: str, rule_id: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Delete one rule of a group."""
    with client(server, token) as api:
        api.delete_security_rule(group, rule_id)
    console.print(f"rule {rule_id} deleted")


@security_group_app.command("delete")
@friendly_errors
def group_delete(group: str, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Delete a security group no live port uses."""
    with client(server, token) as api:
        api.delete_security_group(group)
    console.print(f"security group {group} deleted")
