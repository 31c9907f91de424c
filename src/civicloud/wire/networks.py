"""Tenant networks, their ports and security groups."""

from __future__ import annotations

from datetime import datetime
from ipaddress import IPv4Address
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from civicloud.domain.networks import MAX_DNS, MAX_RULES, MAX_SUBNETS, Direction, Protocol
from civicloud.wire.common import In, Name, Out, Ref, Text

# Addresses and networks as people write them; their meaning is checked by domain.networks (stable codes).
Address = Annotated[str, StringConstraints(min_length=7, max_length=15, pattern=r"^[0-9.]+$")]
Cidr = Annotated[str, StringConstraints(min_length=7, max_length=18, pattern=r"^[0-9./]+$")]
PortNumber = Annotated[int, Field(ge=1, le=65535)]


def _ipv4(text: str) -> str:
    try:
        return str(IPv4Address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IPv4 address a.b.c.d") from None


# An IPv4 address checked where it is read (a machine's own, such as a host's tunnel address): a string only.
IPv4Text = Annotated[str, StringConstraints(min_length=7, max_length=15, pattern=r"^[0-9.]+$"), AfterValidator(_ipv4)]


class SubnetIn(In):
    cidr: Cidr = Field(description="an IPv4 network a.b.c.d/n, from /16 to /29, host bits zero; two networks "
                       "may use the same range (each is its own segment)", examples=["10.20.0.0/24"])
    gateway: Address | None = Field(default=None, description="the subnet's gateway; its first address if left out")
    dns: list[Address] = Field(default_factory=list, max_length=MAX_DNS, description="DNS servers its workloads use")


class NetworkCreate(In):
    member_id: Ref = Field(description="the member whose network it is (id or name)")
    name: Name
    subnets: list[SubnetIn] = Field(min_length=1, max_length=MAX_SUBNETS, description="disjoint IPv4 subnets")
    internet_egress: bool = Field(default=False, description="whether its workloads should reach the internet "
                                  "through NAT on their lender's host (recorded; not carried out on the hosts yet)")


class SubnetOut(Out):
    cidr: str
    gateway: str
    dns: list[str]
    capacity: int = Field(description="how many workload addresses it has")


class NetworkHostOut(Out):
    """A host holding the network: its site and lender for everyone who sees the network; the host itself, its
    tunnel address and its agent's errors for the federation's staff and the lender only."""

    site_id: str
    site_name: str
    lender_id: str
    lender_name: str
    ports: int = Field(description="the network's live ports on this host")
    data_plane: Literal["applied", "errors", "unknown"] = Field(
        description="what the host's agent last reported: applied, errors (the lender and the operator see "
                    "them on the host), or unknown (its agent programs no tenant networks, or has not reported)")
    host_id: str | None = None
    host_name: str | None = None
    tunnel_ip: str | None = None
    errors: list[str] | None = None


class NetworkOut(Out):
    id: str
    member_id: str
    name: str
    vni: int = Field(description="its VXLAN network identifier, unique in the federation")
    subnets: list[SubnetOut]
    internet_egress: bool
    ports: int = Field(description="how many live ports it has")
    created_at: datetime
    hosts: list[NetworkHostOut] = Field(default_factory=list, description="the hosts holding it (one network's "
                                        "view only; empty in lists)")


class NicIn(In):
    """One NIC of a new workload."""

    network: Ref = Field(description="a network of the workload's member (id or name)")
    fixed_ip: Address | None = Field(default=None, description="the address it must have; the lowest free one "
                                     "if left out")
    security_groups: list[Ref] | None = Field(default=None, max_length=10, description="security groups of the "
                                              "member (ids or names); its 'default' group if left out")


class NicOut(Out):
    """A workload's port as the workload shows it."""

    port_id: str
    network_id: str
    mac: str
    ip: str


class PortOut(Out):
    id: str
    network_id: str
    member_id: str
    workload_id: str
    mac: str
    ip: str
    security_groups: list[str]
    created_at: datetime


class RuleIn(In):
    direction: Direction = Field(description="ingress: to the port; egress: from it")
    protocol: Protocol = Protocol.ANY
    port_min: PortNumber | None = Field(default=None, description="tcp and udp only; one port alone is port_min")
    port_max: PortNumber | None = None
    remote_cidr: Cidr | None = Field(default=None, description="where the traffic comes from (ingress) or goes "
                                     "to (egress); anywhere if neither this nor remote_group is given")
    remote_group: Ref | None = Field(default=None, description="a security group of the member (id or name): "
                                     "the addresses of its ports")


class SecurityGroupCreate(In):
    member_id: Ref
    name: Name
    description: Text = ""
    rules: list[RuleIn] | None = Field(default=None, max_length=MAX_RULES, description="its rules; if left out, "
                                       "one rule allowing all egress (as a new group has in OpenStack)")


class RuleOut(Out):
    id: str
    direction: Direction
    protocol: Protocol
    port_min: int | None
    port_max: int | None
    remote_cidr: str | None
    remote_group_id: str | None


class SecurityGroupOut(Out):
    id: str
    member_id: str
    name: str
    description: str
    rules: list[RuleOut]
    created_at: datetime
