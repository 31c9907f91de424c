"""Tenant networks as their member drives them: networks (with their VNI), security groups and their rules,
and the ports a workload gets on its networks (with their addresses from the IPAM).

Allocation is compare-and-swap: a VNI or an address is inserted against the unique index that guards it; one
that another replica took meanwhile is not written, and the next candidate is tried (a bounded number of
times), so two replicas never give the same VNI or the same address, and nothing is locked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Address

from civicloud.domain import Host, Member
from civicloud.domain.networks import (
    DEFAULT_GROUP,
    DEFAULT_NETWORK,
    MAX_RULES,
    VNI_MAX,
    VNI_MIN,
    Direction,
    Network,
    Port,
    Protocol,
    Rule,
    SecurityGroup,
    Subnet,
    check_subnets,
    choose_address,
    mac_for,
    make_rule,
    make_subnet,
    next_vni,
    parse_address,
)
from civicloud.errors import ConcurrentUpdate, Conflict, InvalidInput, NotFound
from civicloud.services.access import Caller, operation, own_member, require_own, scope_of
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.store.repositories.networks import PlacedPort
from civicloud.wire import (
    HostNetworksOut,
    NetworkCreate,
    NetworkHere,
    NicIn,
    PortHere,
    RemoteMac,
    RuleIn,
    SecurityGroupCreate,
    SecurityGroupHere,
    SecurityRuleHere,
)

# The member's network when a workload names none, made on first need. A member that wants another range
# creates its own network before its first workload, or names its networks in each request.
DEFAULT_SUBNET = "10.64.0.0/22"
TRIES = 16  # compare-and-swap attempts before answering 409 concurrent_update (each lost only to another writer)


@dataclass(frozen=True)
class NetworkView:
    network: Network
    ports: int  # live ports
    hosts: tuple[NetworkHost, ...] = ()  # where it is, for one network's view


@dataclass(frozen=True)
class NetworkHost:
    """A host holding the network (a placed workload has a port on it), with its site and lender and what its
    agent last reported of the data plane."""

    host: Host
    site_name: str
    lender_id: str
    lender_name: str
    ports: int


# -- networks ---------------------------------------------------------------------------------------------------


@operation("networks.create")
def create_network(uow: UnitOfWork, caller: Caller, cmd: NetworkCreate) -> NetworkView:
    subnets = [make_subnet(s.cidr, s.gateway, s.dns, f"subnets[{i}]") for i, s in enumerate(cmd.subnets)]
    check_subnets(subnets)
    with uow:
        member = require_member(uow, cmd.member_id)
        require_own(caller, member.id, cmd.member_id)
        if uow.networks.named(member.id, cmd.name) is not None:
            raise _name_taken(member, cmd.name)
        network = _allocate(uow, member, cmd.name, tuple(subnets), cmd.internet_egress, take_existing=False)
        ensure_default_group(uow, member.id)
        uow.commit()
    return NetworkView(network, 0)


def _name_taken(member: Member, name: str) -> Conflict:
    return Conflict(f"{member.name} already has a network named {name!r}; choose another name",
                    code="civicloud.network.name_taken", field="name")


def _allocate(uow: UnitOfWork, member: Member, name: str, subnets: tuple[Subnet, ...], egress: bool,
              *, take_existing: bool) -> Network:
    """Write a new network with the next free VNI. ``take_existing``: a network of that name written meanwhile
    (by a concurrent request) is the answer, instead of a conflict."""
    for attempt in range(TRIES):
        highest = uow.networks.highest_vni()
        vni = next_vni(highest) if highest is None or highest < VNI_MAX else _gap(uow.networks.vnis())
        network_id = uow.new_id()
        if vni < VNI_MAX - 1024:
            # Lost to another writer: the contenders spread over a window that doubles with each loss, so that
            # they do not all try the same next value again.
            vni += _spread(network_id, attempt)
        network = Network(network_id, member.id, name, vni, subnets, egress, uow.clock())
        if uow.networks.add(network):
            return network
        existing = uow.networks.named(member.id, name)
        if existing is not None:
            if take_existing:
                return existing
            raise _name_taken(member, name)
    raise ConcurrentUpdate("other networks were being created at the same time; retry")


def _spread(seed: str, attempt: int) -> int:
    """0 on a first try; after ``attempt`` lost compare-and-swaps, a number below 2**attempt (at most 1,023)
    drawn from a fresh id, so that writers that lost together do not try the same value again together."""
    return int(hashlib.sha256(seed.encode()).hexdigest(), 16) % (1 << min(attempt, 10)) if attempt else 0


def _gap(used: Sequence[int]) -> int:
    expected = VNI_MIN
    for vni in used:
        if vni > expected:
            return expected
        expected = max(expected, vni + 1)
    if expected > VNI_MAX:
        raise Conflict("the federation has used every VXLAN network identifier; delete networks no one uses",
                       code="civicloud.network.no_vni_left")
    return expected


def require_network(uow: UnitOfWork, ref: str, member_id: str | None = None) -> Network:
    network = uow.networks.by_ref(ref, member_id)  # with a member, that member's only
    if network is None:
        raise NotFound.of("network", ref)
    return network


@operation("networks.get")
def get_network(uow: UnitOfWork, caller: Caller, network_id: str) -> NetworkView:
    """The network, its live ports' count, and the hosts holding it (with their agents' last report)."""
    with uow:
        network = require_network(uow, network_id, scope_of(caller))
        held = dict(uow.ports.hosts_of(network.id))
        hosts = {h.id: h for h in uow.hosts.get_many(sorted(held))}
        where = {w[0]: w for w in uow.hosts.whereabouts(sorted(held))}
        return NetworkView(network, uow.ports.counts([network.id])[network.id], tuple(
            NetworkHost(hosts[h], where[h][2], where[h][3], where[h][4], n) for h, n in held.items()
            if h in hosts and h in where))


@operation("networks.list")
def list_networks(uow: UnitOfWork, caller: Caller, member: str | None = None) -> list[NetworkView]:
    member = own_member(uow, caller, member)
    with uow:
        member_id = require_member(uow, member).id if member is not None else None
        networks = uow.networks.list(member_id)
        counts = uow.ports.counts([n.id for n in networks])
    return [NetworkView(n, counts[n.id]) for n in networks]


@operation("networks.delete")
def delete_network(uow: UnitOfWork, caller: Caller, network_id: str) -> None:
    with uow:
        network = require_network(uow, network_id, scope_of(caller))
        live = uow.ports.live_on(network.id)
        if live:
            shown = ", ".join(f"{port_id} (workload {name})" for port_id, _w, name in live[:10])
            more = f" and {len(live) - 10} more" if len(live) > 10 else ""
            raise Conflict(f"network {network.name!r} still has {len(live)} port(s): {shown}{more}; delete those "
                           "workloads first", code="civicloud.network.in_use")
        uow.networks.delete(network.id)
        uow.commit()


# -- ports ------------------------------------------------------------------------------------------------------


def attach_ports(uow: UnitOfWork, member: Member, workload_id: str, nics: Sequence[NicIn] | None,
                 now: datetime) -> list[Port]:
    """Give a new workload its ports, inside the caller's unit of work: one per NIC asked for, or one on the
    member's default network (made on first need) when it asks for none (``None``; ``[]`` is no NIC at all)."""
    if nics is None:
        nics = [NicIn(network=DEFAULT_NETWORK)]
    resolved = []
    default_group: str | None = None
    for position, nic in enumerate(nics):
        network = _members_network(uow, member, nic.network)
        if nic.security_groups is None:
            default_group = default_group or ensure_default_group(uow, member.id)
            groups: tuple[str, ...] = (default_group,)
        else:
            groups = tuple(dict.fromkeys(_members_group(uow, member, g, "security_groups").id
                                         for g in nic.security_groups))
        wanted = parse_address(nic.fixed_ip, f"networks[{position}].fixed_ip") if nic.fixed_ip else None
        resolved.append((position, network, wanted, groups))
    # Addresses are taken network by network in one order for every request (two requests naming the same
    # networks in opposite orders would each wait for the other's insert: a deadlock), each NIC keeping its place.
    taken = [(position, _take_address(uow, network, member, workload_id, position, wanted, groups, now))
             for position, network, wanted, groups in sorted(resolved, key=lambda r: (r[1].id, r[0]))]
    return [port for _position, port in sorted(taken, key=lambda t: t[0])]


def _take_address(uow: UnitOfWork, network: Network, member: Member, workload_id: str, position: int,
                  wanted: IPv4Address | None, groups: tuple[str, ...], now: datetime) -> Port:
    for attempt in range(TRIES):
        port_id = uow.new_id()
        # After a lost insert, the next try spreads over a window of free addresses that doubles with each loss.
        skip = _spread(port_id, attempt)
        address = choose_address(network, uow.ports.held(network.id), wanted, skip)
        port = Port(port_id, network.id, member.id, workload_id, mac_for(port_id), address, groups, now)
        if uow.ports.add(port, position):
            return port
    raise ConcurrentUpdate(f"addresses of network {network.name!r} were being taken at the same time; retry")


def _members_network(uow: UnitOfWork, member: Member, ref: str) -> Network:
    """The member's network ``ref`` names (another member's: as if it did not exist); its default network is
    made on first need."""
    found = uow.networks.by_ref(ref, member.id)
    if found is not None:
        return found
    if ref == DEFAULT_NETWORK:
        return _allocate(uow, member, DEFAULT_NETWORK, (make_subnet(DEFAULT_SUBNET),), False, take_existing=True)
    raise NotFound.of("network", ref)


def ports_of(uow: UnitOfWork, workload_ids: Sequence[str]) -> dict[str, list[Port]]:
    """The live ports of each of these workloads, in NIC order (for a workload's view: the caller has been
    authorized for the workloads themselves)."""
    if not workload_ids:
        return {}
    with uow:
        return uow.ports.of_workloads(workload_ids)


def host_networks(ports: Sequence[PlacedPort], site_id: str,
                  groups: Mapping[str, SecurityGroup] | None = None) -> list[HostNetworksOut]:
    """Per host of the site: the networks it must hold (those with a port on it), each with its ports there,
    the tunnel addresses of the other hosts holding it (head-end replication) and the MACs, addresses and
    groups behind each; and the security groups of its ports, with their rules (``groups``: by id).
    ``ports``: every placed port of those networks, wherever it is (``PortRepository.placed_on_networks_of_site``).
    A host whose agent reports no tunnel address is nobody's peer (it holds no overlay)."""
    groups = groups or {}
    by_network: dict[str, list[PlacedPort]] = {}
    for p in ports:
        by_network.setdefault(p.network_id, []).append(p)
    hosts: dict[str, list[NetworkHere]] = {}
    for network_id, members in by_network.items():
        for host in sorted({p.host_name for p in members if p.site_id == site_id}):
            here = [p for p in members if p.site_id == site_id and p.host_name == host]
            mine = here[0].tunnel_ip
            elsewhere = [p for p in members if p not in here and p.tunnel_ip and p.tunnel_ip != mine]
            hosts.setdefault(host, []).append(NetworkHere(
                network_id=network_id, vni=here[0].vni,
                ports=[PortHere(port_id=p.port_id, mac=p.mac, ip=str(p.ip), security_groups=list(p.security_groups))
                       for p in here],
                peers=sorted({p.tunnel_ip for p in elsewhere if p.tunnel_ip}),
                remote=[RemoteMac(mac=p.mac, tunnel_ip=p.tunnel_ip, ip=str(p.ip),
                                  security_groups=list(p.security_groups)) for p in elsewhere if p.tunnel_ip]))
    return [HostNetworksOut(host_name=h, networks=sorted(nets, key=lambda n: n.vni), security_groups=[
        _group_here(groups[g]) for g in sorted({g for n in nets for p in n.ports for g in p.security_groups})
        if g in groups]) for h, nets in sorted(hosts.items())]


def _group_here(group: SecurityGroup) -> SecurityGroupHere:
    return SecurityGroupHere(id=group.id, rules=[SecurityRuleHere(
        id=r.id, direction=r.direction.value, protocol=r.protocol.value, port_min=r.port_min, port_max=r.port_max,
        remote_cidr=str(r.remote_cidr) if r.remote_cidr else None, remote_group_id=r.remote_group_id)
        for r in group.rules])


def release_ports(uow: UnitOfWork, workload_id: str, now: datetime) -> None:
    """A deleted workload's ports let go of their addresses and MACs (kept as history)."""
    uow.ports.release(workload_id, now)


@operation("ports.list")
def list_ports(uow: UnitOfWork, caller: Caller, member: str | None = None, network: str | None = None,
               limit: int = 1000, offset: int = 0) -> list[Port]:
    member = own_member(uow, caller, member)
    with uow:
        member_id = require_member(uow, member).id if member is not None else None
        network_id = require_network(uow, network, member_id).id if network is not None else None
        return uow.ports.list(member_id=member_id, network_id=network_id, limit=limit, offset=offset)


@operation("ports.get")
def get_port(uow: UnitOfWork, caller: Caller, port_id: str) -> Port:
    with uow:
        port = uow.ports.get(port_id)
        if port is None or port.released_at is not None:
            raise NotFound.of("port", port_id)
        return port


# -- security groups --------------------------------------------------------------------------------------------


def _egress_everywhere(new_id: Callable[[], str]) -> tuple[Rule, ...]:
    return (Rule(new_id(), Direction.EGRESS, Protocol.ANY),)


def ensure_default_group(uow: UnitOfWork, member_id: str) -> str:
    """The id of the member's default security group, made on first need: all egress, and all ingress from the
    ports of the default group itself (as OpenStack's): the NICs that name no group reach each other freely,
    and nothing else comes in."""
    for _ in range(TRIES):
        found = uow.security_groups.id_named(member_id, DEFAULT_GROUP)
        if found is not None:
            return found
        group_id = uow.new_id()
        rules = (*_egress_everywhere(uow.new_id), Rule(uow.new_id(), Direction.INGRESS, Protocol.ANY,
                                                       remote_group_id=group_id))
        group = SecurityGroup(group_id, member_id, DEFAULT_GROUP, "made by civicloud: all egress, ingress from the "
                              "ports of this group", rules, uow.clock())
        if uow.security_groups.add(group):
            return group.id
    raise ConcurrentUpdate("the member's default security group was being made at the same time; retry")


def _members_group(uow: UnitOfWork, member: Member, ref: str, field: str) -> SecurityGroup:
    group = uow.security_groups.by_ref(ref, member.id)  # the member's only
    if group is None and ref == DEFAULT_GROUP:
        group = uow.security_groups.get(ensure_default_group(uow, member.id))
    if group is None:
        raise NotFound(f"{member.name} has no security group {ref!r}; list them with 'civicloud security-group "
                       "list'", code="civicloud.security_group.not_found", field=field)
    return group


def _rules(uow: UnitOfWork, member: Member, rules: Sequence[RuleIn]) -> list[Rule]:
    out = []
    for i, r in enumerate(rules):
        remote = None
        if r.remote_group is not None and r.remote_cidr is not None:
            raise InvalidInput("a rule names a remote CIDR or a remote group, not both",
                               code="civicloud.security_group.two_remotes", field=f"rules[{i}].remote_group")
        if r.remote_group is not None:
            remote = _members_group(uow, member, r.remote_group, f"rules[{i}].remote_group").id
        out.append(make_rule(uow.new_id(), r.direction, r.protocol, r.port_min, r.port_max, r.remote_cidr,
                             remote))
    return out


@operation("security_groups.create")
def create_security_group(uow: UnitOfWork, caller: Caller, cmd: SecurityGroupCreate) -> SecurityGroup:
    with uow:
        member = require_member(uow, cmd.member_id)
        require_own(caller, member.id, cmd.member_id)
        group_id = uow.new_id()
        rules = (_egress_everywhere(uow.new_id) if cmd.rules is None
                 else tuple(_rules(uow, member, cmd.rules)))
        group = SecurityGroup(group_id, member.id, cmd.name, cmd.description, rules, uow.clock())
        if not uow.security_groups.add(group):
            raise Conflict(f"{member.name} already has a security group named {cmd.name!r}; choose another name",
                           code="civicloud.security_group.name_taken", field="name")
        uow.commit()
    return group


def require_security_group(uow: UnitOfWork, ref: str, member_id: str | None = None) -> SecurityGroup:
    """The security group ``ref`` names: by id, or by name among ``member_id``'s groups when given."""
    group = uow.security_groups.by_ref(ref, member_id)  # with a member, that member's only
    if group is None:
        raise NotFound.of("security_group", ref)
    return group


@operation("security_groups.get")
def get_security_group(uow: UnitOfWork, caller: Caller, security_group_id: str) -> SecurityGroup:
    with uow:
        return require_security_group(uow, security_group_id, scope_of(caller))


@operation("security_groups.list")
def list_security_groups(uow: UnitOfWork, caller: Caller, member: str | None = None) -> list[SecurityGroup]:
    member = own_member(uow, caller, member)
    with uow:
        member_id = require_member(uow, member).id if member is not None else None
        return uow.security_groups.list(member_id)


@operation("security_groups.add_rule")
def add_rule(uow: UnitOfWork, caller: Caller, security_group_id: str, cmd: RuleIn) -> SecurityGroup:
    with uow:
        group = require_security_group(uow, security_group_id, scope_of(caller))
        member = require_member(uow, group.member_id)
        # Rules are added to one group one request at a time (its row locked until the change commits), so the
        # count read next is the one the new rule joins: two at once cannot both take the 100th place.
        uow.security_groups.lock(group.id)
        count = uow.security_groups.rule_count(group.id)
        if count >= MAX_RULES:
            raise Conflict(f"a security group has at most {MAX_RULES} rules; delete one or use another group",
                           code="civicloud.security_group.too_many_rules")
        (rule,) = _rules(uow, member, [cmd])
        uow.security_groups.add_rules(group.id, [rule], uow.security_groups.next_position(group.id))
        uow.commit()
        return require_security_group(uow, group.id)


@operation("security_groups.delete_rule")
def delete_rule(uow: UnitOfWork, caller: Caller, security_group_id: str, rule_id: str) -> None:
    with uow:
        group = require_security_group(uow, security_group_id, scope_of(caller))
        if not uow.security_groups.delete_rule(group.id, rule_id):
            raise NotFound(f"security group {group.name!r} has no rule {rule_id!r}",
                           code="civicloud.security_group.rule_not_found")
        uow.commit()


@operation("security_groups.delete")
def delete_security_group(uow: UnitOfWork, caller: Caller, security_group_id: str) -> None:
    with uow:
        group = require_security_group(uow, security_group_id, scope_of(caller))
        ports = uow.ports.groups_in_use(group.id)
        if ports:
            raise Conflict(f"security group {group.name!r} is on {len(ports)} live port(s): "
                           f"{', '.join(ports[:10])}; delete those workloads first",
                           code="civicloud.security_group.in_use")
        others = uow.security_groups.referenced_by(group.id)
        if others:
            raise Conflict(f"security group {group.name!r} is the remote group of rules of {', '.join(others)}; "
                           "delete those rules first", code="civicloud.security_group.in_use")
        uow.security_groups.delete(group.id)
        uow.commit()
