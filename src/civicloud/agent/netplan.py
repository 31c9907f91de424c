"""The data plane of tenant networks on one host, as a pure reconcile: what the host must hold for the networks
of the workloads placed on it, against what it holds, gives the actions that make one into the other.

On a host, each network present there (a workload placed on the host has a port on it) has:

- a Linux bridge ``ccbr<VNI>`` (one per network: two members sharing the host never share a bridge);
- a VXLAN device ``ccvx<VNI>`` on that bridge, unicast from the host's tunnel address, learning off; its
  forwarding entries are written from the control plane's knowledge (head-end replication, as Neutron's
  l2population): one all-zeros entry per other host holding the network (broadcast, unknown unicast and
  multicast are copied to each), one entry per remote port's MAC;
- each port's tap (its guest's NIC) on the bridge.

Security is two nftables tables of civicloud's own, replaced whole in one transaction (``ruleset``):

- ``bridge civicloud``, anti-spoofing: a frame from a port's tap must carry the port's MAC, and its IPv4
  packets and ARP the port's address; nothing but IPv4 and ARP crosses;
- ``inet civicloud``, the security groups, stateful: civicloud's bridges are made with the bridge's own
  ``nf_call_iptables`` switch on (the host-wide ``net.bridge.bridge-nf-call-iptables`` is left as the owner
  set it: the owner's bridges are not affected), so the IPv4 packets they carry pass the ``inet`` hooks with
  connection tracking (the kernel's ``nf_conntrack_bridge`` is not needed). Each network's packets are tracked
  in a conntrack zone of their own (members may use the same addresses). A packet is let through when it
  belongs to a connection already let through (its replies included), or when the groups of its local
  source port allow it out (egress) and the groups of its local destination port allow it in (ingress); a
  port on another host is judged by its own host. A port is known by its bridge and its address (which
  anti-spoofing makes its own); a rule's remote group is the set of (bridge, address) of the group's ports on
  the networks the host holds, wherever they run.

Every device made here is named ``cc…`` and tagged with the alias ``civicloud:<network id>``; nothing else on
the host is read as ours or touched.

Pure: no netlink, no subprocess (the driver, ``agent.drivers.netlink``, applies the plan).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PREFIX = "cc"
ALIAS_PREFIX = "civicloud:"
VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
TABLE = "civicloud"
ZERO_MAC = "00:00:00:00:00:00"


def bridge_name(vni: int) -> str:
    return f"{PREFIX}br{vni}"


def vxlan_name(vni: int) -> str:
    return f"{PREFIX}vx{vni}"


def tap_name(port_id: str) -> str:
    """The tap of a port: ``cct`` and 11 characters of its id (an interface name has at most 15)."""
    return f"{PREFIX}t" + "".join(c for c in port_id if c.isalnum())[:12]


@dataclass(frozen=True)
class LocalPort:
    port_id: str
    mac: str
    ip: str
    groups: tuple[str, ...] = ()  # its security groups' ids

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)


@dataclass(frozen=True)
class RemotePort:
    mac: str
    tunnel_ip: str  # the host it is on
    ip: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleHere:
    """A security group's rule: ``direction`` "ingress" (to the port) or "egress" (from it), ``protocol`` "any",
    "tcp", "udp" or "icmp", ports for TCP and UDP (None: all), and the remote: a CIDR, the ports of a group, or
    (neither) anywhere."""

    id: str
    direction: str
    protocol: str
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str | None = None
    remote_group: str | None = None


@dataclass(frozen=True)
class GroupHere:
    id: str
    rules: tuple[RuleHere, ...]


@dataclass(frozen=True)
class NetworkOnHost:
    """What one host must hold of one network."""

    network_id: str
    vni: int
    ports: tuple[LocalPort, ...]  # the network's ports on this host
    peers: tuple[str, ...]  # the tunnel addresses of the other hosts holding the network
    remote: tuple[RemotePort, ...] = ()


@dataclass(frozen=True)
class HostNetworks:
    tunnel_ip: str
    mtu: int  # the underlay's MTU; the bridge gets it minus the VXLAN overhead
    networks: tuple[NetworkOnHost, ...]
    groups: tuple[GroupHere, ...] = ()  # the security groups of the ports here


# -- what the host holds --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    name: str
    kind: str  # "bridge", "vxlan", or the tap's kind ("tun", "veth")
    alias: str | None
    master: str | None  # the bridge it is on
    up: bool
    vni: int | None = None  # for a VXLAN device
    local: str | None = None  # a VXLAN device's tunnel address
    mtu: int | None = None
    filtered: bool | None = None  # a bridge's nf_call_iptables switch: its IPv4 packets pass the inet hooks


@dataclass(frozen=True)
class Actual:
    devices: tuple[Device, ...]
    fdb: frozenset[tuple[str, str, str]]  # (vxlan device, MAC, destination) of civicloud's VXLAN devices
    ruleset_digest: str | None  # ``digest`` of civicloud's tables' sets and rules, None when neither exists
    tables: tuple[str, ...] = ("bridge",)  # the families of the civicloud tables the host holds


# -- actions --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    verb: str  # add_bridge, add_vxlan, attach, set_up, set_mtu, set_filtered, delete, add_fdb, del_fdb, rules,
    # refuse
    device: str = ""
    args: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in sorted(self.args.items()) if k != "ruleset")
        return f"{self.verb} {self.device} {extra}".strip()


def plan(desired: HostNetworks, actual: Actual) -> list[Action]:
    """The actions, in an order the kernel takes: bridges before what goes on them, devices before their
    forwarding entries, deletions of what is ours and unwanted last but for the rules (replaced at the end,
    so that anti-spoofing covers every tap present)."""
    have = {d.name: d for d in actual.devices}
    ours = {d.name: d for d in actual.devices if _is_ours(d)}
    actions: list[Action] = []
    wanted_devices: set[str] = set()
    wanted_fdb: set[tuple[str, str, str]] = set()
    remade: set[str] = set()  # VXLAN devices made again: the entries the host held for the old one went with it
    mtu = desired.mtu - VXLAN_OVERHEAD
    for net in sorted(desired.networks, key=lambda n: n.vni):
        alias = f"{ALIAS_PREFIX}{net.network_id}"
        br, vx = bridge_name(net.vni), vxlan_name(net.vni)
        wanted_devices |= {br, vx}
        squatted = [name for name in (br, vx) if name in have and not _is_ours(have[name])]
        if squatted:  # a device of someone else's has our name: never touched, the network is not made here
            actions.append(Action("refuse", squatted[0], {"why": f"{squatted[0]} exists and is not civicloud's; "
                                                                 f"network {net.network_id} is not made on this host"}))
            continue
        b = have.get(br)
        if b is None or b.kind != "bridge":
            if b is not None:
                actions.append(Action("delete", br))
            actions.append(Action("add_bridge", br, {"alias": alias, "mtu": mtu}))
            b = None
        else:
            if b.mtu != mtu:
                actions.append(Action("set_mtu", br, {"mtu": mtu}))
            if not b.filtered:  # its packets would bypass the security groups: switched on again
                actions.append(Action("set_filtered", br))
        v = have.get(vx)
        if v is None or v.kind != "vxlan" or v.vni != net.vni or v.local != desired.tunnel_ip:
            if v is not None:
                actions.append(Action("delete", vx))
                remade.add(vx)
            actions.append(Action("add_vxlan", vx, {"alias": alias, "vni": net.vni, "local": desired.tunnel_ip,
                                                   "port": VXLAN_PORT, "mtu": mtu}))
            v = None
        elif v.mtu != mtu:
            actions.append(Action("set_mtu", vx, {"mtu": mtu}))
        if v is None or v.master != br:
            actions.append(Action("attach", vx, {"master": br}))
        for name, dev in ((br, b), (vx, v)):
            if dev is None or not dev.up:
                actions.append(Action("set_up", name))
        for port in sorted(net.ports, key=lambda p: p.tap):
            tap = have.get(port.tap)
            if tap is not None and tap.master != br:  # the hypervisor made it; civicloud puts it on its bridge
                actions.append(Action("attach", port.tap, {"master": br}))
        for peer in sorted(set(net.peers) - {desired.tunnel_ip}):
            wanted_fdb.add((vx, ZERO_MAC, peer))
        for remote in net.remote:
            if remote.tunnel_ip != desired.tunnel_ip:
                wanted_fdb.add((vx, remote.mac.lower(), remote.tunnel_ip))
    held_fdb = frozenset(e for e in actual.fdb if e[0] not in remade)
    for entry in sorted(wanted_fdb - held_fdb):
        actions.append(Action("add_fdb", entry[0], {"mac": entry[1], "dst": entry[2]}))
    for entry in sorted(held_fdb - wanted_fdb):
        if entry[0] in wanted_devices:  # those of a device being deleted go with it
            actions.append(Action("del_fdb", entry[0], {"mac": entry[1], "dst": entry[2]}))
    # What is ours and no longer wanted: VXLAN devices first (off their bridges), then the bridges.
    for name in sorted(set(ours) - wanted_devices, key=lambda n: (ours[n].kind != "vxlan", n)):
        if ours[name].kind in ("bridge", "vxlan"):
            actions.append(Action("delete", name))
    if not any(net.ports for net in desired.networks):  # nothing to guard: no table left behind
        if actual.ruleset_digest is not None:
            actions.append(Action("rules", TABLE, {"ruleset": {"nftables": [
                {"delete": {"table": {"family": family, "name": TABLE}}} for family in actual.tables]}}))
        return actions
    if digest(wanted_keys(desired)) != actual.ruleset_digest:
        actions.append(Action("rules", TABLE, {"ruleset": ruleset(desired)}))
    return actions


def _is_ours(d: Device) -> bool:
    return d.name.startswith(PREFIX) and (d.alias or "").startswith(ALIAS_PREFIX)


# -- nftables -------------------------------------------------------------------------------------------------


# The bridge table's sets: the (tap, MAC) and (tap, address) pairs the tenant ports may send from.
# Sets keep the rules few and fixed whatever the number of ports (a rule per port and check made 20,000 rules
# at 2,000 ports, which nft took over a minute to load).
SETS = {"port_macs": ["ifname", "ether_addr"], "port_ips": ["ifname", "ipv4_addr"]}
CHAINS = ("forward", "input")  # frames a port sends to another port, and to the host itself
# The inet table's verdict maps: a port's (bridge, address) -> the chain of its groups' egress or ingress rules.
MAPS = ("egress", "ingress")
MEMBERS = "m_"  # + a group's id: the set of (bridge, address) of the group's ports, for rules naming it remote
ZONES = 65535  # conntrack zones 1..65535: one per network on the host


def elements(desired: HostNetworks) -> dict[str, list[tuple[str, ...]]]:
    """The elements of each set and map of both tables (``family/name``), as tuples of text, sorted: what the
    tables must hold. A map's element ends with its verdict (``jump:<chain>``)."""
    ports = sorted((p for net in desired.networks for p in net.ports), key=lambda p: p.tap)
    out: dict[str, list[tuple[str, ...]]] = {
        "bridge/port_macs": [(p.tap, p.mac.lower()) for p in ports],
        # 0.0.0.0: a DHCP client's source before it has its address.
        "bridge/port_ips": sorted({(p.tap, a) for p in ports for a in (p.ip, "0.0.0.0")})}
    for direction in MAPS:
        out[f"inet/{direction}"] = sorted(
            (bridge_name(net.vni), p.ip, f"jump:{_combo_chain(direction, p.groups)}")
            for net in desired.networks for p in net.ports)
    for group in _remote_groups(desired):
        held = [(bridge_name(net.vni), p.ip, p.groups) for net in desired.networks for p in net.ports] + \
            [(bridge_name(net.vni), r.ip, r.groups) for net in desired.networks for r in net.remote]
        out[f"inet/{MEMBERS}{group}"] = sorted({(bridge, ip) for bridge, ip, groups in held if ip and group in groups})
    return out


def _remote_groups(desired: HostNetworks) -> list[str]:
    """The groups the rules of the host's ports name as their remote (their member sets are needed)."""
    used = {g for net in desired.networks for p in net.ports for g in p.groups}
    return sorted({r.remote_group for g in desired.groups if g.id in used for r in g.rules if r.remote_group})


def _combo_chain(direction: str, groups: Sequence[str]) -> str:
    """The chain of the union of these groups' rules in one direction (ports with the same groups share it)."""
    key = hashlib.sha256("|".join(groups).encode()).hexdigest()[:12]
    return f"{direction[0]}_{key}"


def zones(desired: HostNetworks) -> dict[str, int]:
    """Each network's conntrack zone on this host, by bridge: from its VNI (so it stays the same while the
    network is here), the next free one when two networks of the host would share it."""
    out: dict[str, int] = {}
    taken: set[int] = set()
    for net in sorted(desired.networks, key=lambda n: n.vni):
        zone = net.vni % ZONES + 1
        while zone in taken:
            zone = zone % ZONES + 1
        taken.add(zone)
        out[bridge_name(net.vni)] = zone
    return out


def ruleset(desired: HostNetworks) -> dict[str, Any]:
    """Both tables, ``bridge civicloud`` and ``inet civicloud``, as nftables JSON (``nft -j -f``), in one
    transaction: each table is made again whole, so that no frame ever crosses a half-written table and nothing
    of the last version is left over.

    ``bridge``: a frame a port's tap sends must carry the port's MAC; an IPv4 packet, the port's address (a DHCP
    request, 0.0.0.0, aside); an ARP packet, the port's MAC and address as its sender; nothing but IPv4 and ARP.
    Frames from anything but a port's tap (the VXLAN device, the owner's own) pass.

    ``inet`` (the IPv4 packets of civicloud's bridges only: ``iifname`` is the bridge there): each network's
    packets tracked in its own conntrack zone; a packet of a connection let through passes, an invalid one is
    dropped; a new one goes through its local source port's egress chain and its local destination port's
    ingress chain, each made of its groups' rules (a match returns, the chain's end drops). What is dropped is
    counted."""
    wanted = elements(desired)
    commands: list[dict[str, Any]] = []
    for family in ("bridge", "inet"):
        # Made if absent, deleted and made again: no chain, set or element of the last version is left over.
        table = {"family": family, "name": TABLE}
        commands += [{"add": {"table": table}}, {"delete": {"table": table}}, {"add": {"table": table}}]
    for key, types in SETS.items():
        commands += _set("bridge", key, types, wanted[f"bridge/{key}"])
    for chain in CHAINS:
        commands.append(_chain("bridge", chain, chain, -200))
        commands.extend(_rule("bridge", chain, expr, comment) for expr, comment in _checks())
    # inet: the member sets (rules name them), the combination chains (the maps' verdicts name them), the maps,
    # then the hooks.
    for group in _remote_groups(desired):
        commands += _set("inet", f"{MEMBERS}{group}", ["ifname", "ipv4_addr"], wanted[f"inet/{MEMBERS}{group}"])
    groups = {g.id: g for g in desired.groups}
    combos = sorted({p.groups for net in desired.networks for p in net.ports})
    for direction in MAPS:
        for combo in combos:
            name = _combo_chain(direction, combo)
            commands.append(_chain("inet", name))
            for group_id in combo:
                for rule in groups.get(group_id, GroupHere(group_id, ())).rules:
                    if rule.direction == direction:
                        commands.append(_rule("inet", name, [*_rule_match(rule), {"return": None}],
                                              f"rule {rule.id}"))
            commands.append(_rule("inet", name, [{"counter": None}, {"drop": None}], "not allowed"))
    for direction in MAPS:
        commands += _set("inet", direction, ["ifname", "ipv4_addr"], wanted[f"inet/{direction}"], verdicts=True)
    commands.append(_chain("inet", "zone", "prerouting", -300))
    commands.extend(_rule("inet", "zone", expr, comment) for expr, comment in _zone_rules(desired))
    commands.append(_chain("inet", "forward", "forward", 0))
    commands.extend(_rule("inet", "forward", expr, comment) for expr, comment in _groups_checks())
    return {"nftables": commands}


def _set(family: str, name: str, types: list[str], items: list[tuple[str, ...]],
         verdicts: bool = False) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"family": family, "table": TABLE, "name": name,
                            "type": types[0] if len(types) == 1 else types}
    if verdicts:
        body["map"] = "verdict"
    kind = "map" if verdicts else "set"
    out: list[dict[str, Any]] = [{"add": {kind: body}}]
    if items:
        elems: list[Any] = []
        for e in items:
            key_parts = e[:-1] if verdicts else e
            key: Any = key_parts[0] if len(key_parts) == 1 else {"concat": list(key_parts)}
            elems.append([key, {"jump": {"target": e[-1].removeprefix("jump:")}}] if verdicts else key)
        out.append({"add": {"element": {"family": family, "table": TABLE, "name": name, "elem": elems}}})
    return out


def _chain(family: str, name: str, hook: str | None = None, prio: int = 0) -> dict[str, Any]:
    body: dict[str, Any] = {"family": family, "table": TABLE, "name": name}
    if hook is not None:
        body.update({"type": "filter", "hook": hook, "prio": prio, "policy": "accept"})
    return {"add": {"chain": body}}


def _match(left: Any, op: str, right: Any) -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol: str, fld: str) -> dict[str, Any]:
    return {"payload": {"protocol": protocol, "field": fld}}


def _rule(family: str, chain: str, expr: Sequence[dict[str, Any]], comment: str) -> dict[str, Any]:
    return {"add": {"rule": {"family": family, "table": TABLE, "chain": chain, "expr": list(expr),
                             "comment": comment}}}


def _checks() -> list[tuple[list[dict[str, Any]], str]]:
    iif = {"meta": {"key": "iifname"}}
    drop = [{"counter": None}, {"drop": None}]
    arp = _match(_payload("ether", "type"), "==", "arp")
    return [
        # Frames from anything but a civicloud tap (the VXLAN device, the owner's own) are not judged here; a
        # civicloud tap that is no port's (a guest moved away, before its domain is gone) fails the next check.
        ([_match(iif, "!=", f"{PREFIX}t*"), {"accept": None}], "not a tenant port"),
        ([_match({"concat": [iif, _payload("ether", "saddr")]}, "!=", "@port_macs"), *drop], "mac"),
        ([_match(_payload("ether", "type"), "==", "ip"),
          _match({"concat": [iif, _payload("ip", "saddr")]}, "!=", "@port_ips"), *drop], "ip"),
        ([arp, _match({"concat": [iif, _payload("arp", "saddr ether")]}, "!=", "@port_macs"), *drop], "arp mac"),
        ([arp, _match({"concat": [iif, _payload("arp", "saddr ip")]}, "!=", "@port_ips"), *drop], "arp ip"),
        ([_match(_payload("ether", "type"), "!=", {"set": ["ip", "arp"]}), *drop], "ethertype"),
    ]


def _zone_rules(desired: HostNetworks) -> list[tuple[list[dict[str, Any]], str]]:
    iif = {"meta": {"key": "iifname"}}
    return [([_match(iif, "==", bridge), {"mangle": {"key": {"ct": {"key": "zone"}}, "value": zone}}],
             f"zone {bridge} {zone}") for bridge, zone in sorted(zones(desired).items())]


def _groups_checks() -> list[tuple[list[dict[str, Any]], str]]:
    iif = {"meta": {"key": "iifname"}}
    state = {"ct": {"key": "state"}}
    return [
        # The host's own traffic and the owner's bridges are not judged here (an accept in this table does not
        # bind the host's other tables).
        ([_match(iif, "!=", f"{PREFIX}br*"), {"accept": None}], "not a tenant network"),
        ([_match(state, "in", ["established", "related"]), {"accept": None}], "established"),
        ([_match(state, "in", ["invalid"]), {"counter": None}, {"drop": None}], "invalid"),
        ([{"vmap": {"key": {"concat": [iif, _payload("ip", "saddr")]}, "data": "@egress"}}], "egress"),
        ([{"vmap": {"key": {"concat": [iif, _payload("ip", "daddr")]}, "data": "@ingress"}}], "ingress"),
    ]


def _rule_match(rule: RuleHere) -> list[dict[str, Any]]:
    """The match of one rule of a group: its protocol, its ports, its remote (the source of what comes in, the
    destination of what goes out)."""
    where = "saddr" if rule.direction == "ingress" else "daddr"
    out: list[dict[str, Any]] = []
    if rule.protocol != "any":
        out.append(_match({"meta": {"key": "l4proto"}}, "==", rule.protocol))
    if rule.protocol in ("tcp", "udp") and rule.port_min is not None:
        high = rule.port_max if rule.port_max is not None else rule.port_min
        out.append(_match(_payload("th", "dport"), "==",
                          rule.port_min if high == rule.port_min else {"range": [rule.port_min, high]}))
    if rule.remote_cidr is not None:
        addr, _, length = rule.remote_cidr.partition("/")
        if int(length or 32) > 0:
            out.append(_match(_payload("ip", where), "==", {"prefix": {"addr": addr, "len": int(length or 32)}}))
    elif rule.remote_group is not None:
        out.append(_match({"concat": [{"meta": {"key": "iifname"}}, _payload("ip", where)]}, "==",
                          f"@{MEMBERS}{rule.remote_group}"))
    return out


def table_keys(sets: dict[str, list[tuple[str, ...]]], rules: Iterable[tuple[str, str]]) -> list[Any]:
    """What identifies the tables: each set's and map's elements, each chain's rules by their comment."""
    return [sorted((name, list(e)) for name, items in sets.items() for e in items), sorted(rules)]


def wanted_keys(desired: HostNetworks) -> list[Any]:
    rules = [(f"bridge/{c}", comment) for c in CHAINS for _e, comment in _checks()]
    for cmd in ruleset(desired)["nftables"]:
        rule = cmd.get("add", {}).get("rule")
        if rule is not None and rule["family"] == "inet":
            rules.append((f"inet/{rule['chain']}", rule["comment"]))
    return table_keys(elements(desired), rules)


def digest(keys: list[Any]) -> str:
    """A digest of ``table_keys``: a table missing an element or a rule, holding one more, or gone, differs from
    the one wanted and is written again whole."""
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()
