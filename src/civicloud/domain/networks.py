"""Tenant networks: a member's own L2 segments, their addresses, the NICs of its workloads and the rules that
let traffic in and out.

A network is one segment (one VXLAN VNI, federation-wide) with one or more IPv4 subnets; two members may choose
the same ranges, since each network is its own segment. A port is a workload's NIC on a network: a MAC and a
fixed address the control plane's IPAM gives, held until the workload is deleted. Security groups are a
member's sets of allow rules; traffic inside a network is always allowed, from outside only what a rule of one
of the port's groups allows. Everything here is pure: the store and the services apply it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network

from civicloud.errors import Conflict, InvalidInput

# VNIs below 4096 are left to the hosts' owners (and match VLAN ids people reuse by habit); 24 bits in all.
VNI_MIN, VNI_MAX = 4096, (1 << 24) - 1
# A segment is at least a /29 (5 addresses for workloads) and at most a /16 (one IPAM scan stays cheap).
PREFIX_LONGEST, PREFIX_SHORTEST = 29, 16
MAX_SUBNETS = 8
MAX_DNS = 4
MAX_RULES = 100
DEFAULT_NETWORK = "default"  # the network a workload that names none joins; made on first need
DEFAULT_GROUP = "default"  # the security group a port that names none gets; made with the member's first network

# Ranges that are never a tenant segment: "this network", loopback, link-local, multicast, reserved and the
# limited broadcast. Private (RFC 1918), shared (RFC 6598) and public ranges a member already uses are allowed.
_FORBIDDEN = tuple(IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4",
                                            "240.0.0.0/4"))


class Protocol(StrEnum):
    ANY = "any"
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


class Direction(StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


@dataclass(frozen=True)
class Subnet:
    cidr: IPv4Network
    gateway: IPv4Address
    dns: tuple[IPv4Address, ...] = ()

    def holds(self, address: IPv4Address) -> bool:
        """Whether a workload may hold ``address``: inside, and neither the network's, the broadcast nor the
        gateway's address."""
        return (address in self.cidr and address not in (self.cidr.network_address, self.cidr.broadcast_address)
                and address != self.gateway)

    @property
    def capacity(self) -> int:
        """How many workload addresses it has (all but the network's, the broadcast and the gateway)."""
        return self.cidr.num_addresses - 3


@dataclass(frozen=True)
class Network:
    id: str
    member_id: str
    name: str
    vni: int
    subnets: tuple[Subnet, ...]
    internet_egress: bool  # whether its workloads ask to reach the internet (NAT on a lender's host that gives it)
    created_at: datetime

    def subnet_of(self, address: IPv4Address) -> Subnet | None:
        return next((s for s in self.subnets if address in s.cidr), None)


@dataclass(frozen=True)
class Port:
    """A workload's NIC on a network; it holds its address until ``released_at``."""

    id: str
    network_id: str
    member_id: str
    workload_id: str
    mac: str
    ip: IPv4Address
    security_groups: tuple[str, ...]  # ids, in the order given
    created_at: datetime
    released_at: datetime | None = None


@dataclass(frozen=True)
class Rule:
    """Allows traffic in (``INGRESS``: to the port) or out (``EGRESS``: from it) with ``protocol``, on ports
    ``port_min``–``port_max`` (TCP and UDP only; None: all), from or to ``remote_cidr`` or the ports of the
    security group ``remote_group_id`` (neither: anywhere)."""

    id: str
    direction: Direction
    protocol: Protocol
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: IPv4Network | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    member_id: str
    name: str
    description: str
    rules: tuple[Rule, ...]
    created_at: datetime


# -- checks ----------------------------------------------------------------------------------------------------


def parse_cidr(text: str, field: str = "cidr") -> IPv4Network:
    """An IPv4 segment written a.b.c.d/n, its host bits zero, from /16 to /29, in no forbidden range."""
    try:
        if "/" not in text:
            raise ValueError("no prefix length")
        net = ip_network(text, strict=True)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not an IPv4 network written a.b.c.d/n with its host bits zero "
                           f"(e.g. 10.20.0.0/24): {exc}", code="civicloud.network.invalid_cidr", field=field) from exc
    if not isinstance(net, IPv4Network):
        raise InvalidInput(f"{text!r} is IPv6; tenant networks are IPv4 for now",
                           code="civicloud.network.invalid_cidr", field=field)
    if not PREFIX_SHORTEST <= net.prefixlen <= PREFIX_LONGEST:
        raise InvalidInput(f"{text} is a /{net.prefixlen}; a network's subnet is from /{PREFIX_SHORTEST} "
                           f"(65,536 addresses) to /{PREFIX_LONGEST} (8)", code="civicloud.network.cidr_size",
                           field=field)
    for forbidden in _FORBIDDEN:
        if net.overlaps(forbidden):
            raise InvalidInput(f"{text} overlaps {forbidden}, which is never a tenant segment (loopback, "
                               "link-local, multicast or reserved); choose a private range such as 10.0.0.0/8",
                               code="civicloud.network.reserved_cidr", field=field)
    return net


def parse_address(text: str, field: str) -> IPv4Address:
    try:
        address = ip_address(text)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not an IPv4 address", code="civicloud.network.invalid_address",
                           field=field) from exc
    if not isinstance(address, IPv4Address):
        raise InvalidInput(f"{text!r} is IPv6; tenant networks are IPv4 for now",
                           code="civicloud.network.invalid_address", field=field)
    return address


def make_subnet(cidr: str, gateway: str | None = None, dns: Sequence[str] = (), at: str = "subnets[0]") -> Subnet:
    """A subnet from what a caller wrote: the gateway defaults to the first address."""
    net = parse_cidr(cidr, f"{at}.cidr")
    gw = net.network_address + 1 if gateway is None else parse_address(gateway, f"{at}.gateway")
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise InvalidInput(f"the gateway {gw} is not a host address of {net}; leave it out to take {net[1]}",
                           code="civicloud.network.gateway_outside", field=f"{at}.gateway")
    if len(dns) > MAX_DNS:
        raise InvalidInput(f"at most {MAX_DNS} DNS servers", code="civicloud.network.too_many_dns", field=f"{at}.dns")
    servers = tuple(parse_address(d, f"{at}.dns") for d in dns)
    if len(set(servers)) != len(servers):
        raise InvalidInput("a DNS server is named twice", code="civicloud.network.too_many_dns", field=f"{at}.dns")
    return Subnet(net, gw, servers)


def check_subnets(subnets: Sequence[Subnet]) -> None:
    """A network has 1 to MAX_SUBNETS subnets that do not overlap one another."""
    if not 1 <= len(subnets) <= MAX_SUBNETS:
        raise InvalidInput(f"a network has 1 to {MAX_SUBNETS} subnets", code="civicloud.network.subnet_count",
                           field="subnets")
    for i, a in enumerate(subnets):
        for j in range(i):
            if a.cidr.overlaps(subnets[j].cidr):
                raise InvalidInput(f"subnets {subnets[j].cidr} and {a.cidr} overlap; one network's subnets are "
                                   "disjoint", code="civicloud.network.overlapping_subnets", field=f"subnets[{i}].cidr")


def make_rule(rule_id: str, direction: Direction, protocol: Protocol, port_min: int | None, port_max: int | None,
              remote_cidr: str | None, remote_group_id: str | None) -> Rule:
    """A rule from what a caller wrote. Ports go with TCP and UDP only: a range of one port is port_min alone."""
    if protocol in (Protocol.TCP, Protocol.UDP):
        if port_min is None and port_max is not None:
            raise InvalidInput("a port range starts with port_min", code="civicloud.security_group.invalid_ports",
                               field="port_min")
        if port_min is not None:
            port_max = port_min if port_max is None else port_max
            if not 1 <= port_min <= port_max <= 65535:
                raise InvalidInput(f"ports {port_min}-{port_max}: a range is 1 ≤ port_min ≤ port_max ≤ 65535",
                                   code="civicloud.security_group.invalid_ports", field="port_max")
    elif port_min is not None or port_max is not None:
        raise InvalidInput(f"{protocol.value} has no ports; give ports with tcp or udp only",
                           code="civicloud.security_group.invalid_ports", field="port_min")
    if remote_cidr is not None and remote_group_id is not None:
        raise InvalidInput("a rule names a remote CIDR or a remote group, not both",
                           code="civicloud.security_group.two_remotes", field="remote_group")
    cidr: IPv4Network | None = None
    if remote_cidr is not None:
        try:
            if "/" not in remote_cidr:
                raise ValueError("no prefix length")
            parsed = ip_network(remote_cidr, strict=True)
        except ValueError as exc:
            raise InvalidInput(f"{remote_cidr!r} is not an IPv4 network a.b.c.d/n with its host bits zero",
                               code="civicloud.network.invalid_cidr", field="remote_cidr") from exc
        if not isinstance(parsed, IPv4Network):
            raise InvalidInput(f"{remote_cidr!r} is IPv6; rules are IPv4 for now",
                               code="civicloud.network.invalid_cidr", field="remote_cidr")
        cidr = parsed
    return Rule(rule_id, direction, protocol, port_min, port_max, cidr, remote_group_id)


# -- IPAM, MACs -------------------------------------------------------------------------------------------------


def choose_address(network: Network, held: Iterable[IPv4Address], wanted: IPv4Address | None = None,
                   skip: int = 0) -> IPv4Address:
    """The address a new port of ``network`` gets: ``wanted`` if free, else the lowest free one of its subnets in
    order — or, with ``skip``, the one ``skip`` free addresses further (the last free one if there are fewer):
    a writer that lost an address to another spreads out instead of racing for the same next one.
    ``held``: the addresses its live ports hold (a port never takes one of those)."""
    taken = set(held)
    if wanted is not None:
        subnet = network.subnet_of(wanted)
        if subnet is None:
            cidrs = ", ".join(str(s.cidr) for s in network.subnets)
            raise InvalidInput(f"{wanted} is outside network {network.name!r} ({cidrs})",
                               code="civicloud.port.ip_outside", field="fixed_ip")
        if not subnet.holds(wanted):
            raise Conflict(f"{wanted} is {subnet.cidr}'s network, broadcast or gateway address; a workload cannot "
                           "hold it", code="civicloud.port.ip_reserved", field="fixed_ip")
        if wanted in taken:
            raise Conflict(f"{wanted} is held by another port of network {network.name!r}; choose another or "
                           "leave it out", code="civicloud.port.ip_taken", field="fixed_ip")
        return wanted
    found: IPv4Address | None = None
    for subnet in network.subnets:
        first, last = int(subnet.cidr.network_address) + 1, int(subnet.cidr.broadcast_address)
        for value in range(first, last):
            address = IPv4Address(value)
            if address != subnet.gateway and address not in taken:
                found = address
                if skip == 0:
                    return found
                skip -= 1
    if found is not None:
        return found
    raise Conflict(f"network {network.name!r} has no free address left; delete a workload on it or create a "
                   "network with a larger subnet", code="civicloud.network.full")


def mac_for(seed: str) -> str:
    """A MAC address from a fresh id: locally administered (02:…), unicast, the rest from the id's hash."""
    digest = hashlib.sha256(seed.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))


def next_vni(highest: int | None) -> int:
    """The VNI a new network tries first: one above the highest in use (so they read in creation order), the
    lowest of the range for the first one, and back to the start of the range at its end (the store's
    uniqueness then finds a free one)."""
    if highest is None or highest >= VNI_MAX:
        return VNI_MIN
    return max(VNI_MIN, highest + 1)
