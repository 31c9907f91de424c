"""The data plane of tenant networks on one host, as a pure reconcile: what the host must hold for the networks
of the workloads placed on it, against what it holds, gives the actions that make one into the other.

On a host, each network present there (a workload placed on the host has a port on it) has:

- a Linux bridge ``ccbr<VNI>`` (one per network: two members sharing the host never share a bridge);
- a VXLAN device ``ccvx<VNI>`` on that bridge, unicast from the host's tunnel address, learning off; its
  forwarding entries are written from the control plane's knowledge (head-end replication, as Neutron's
  l2population): one all-zeros entry per other host holding the network (broadcast, unknown unicast and
  multicast are copied to each), one entry per remote port's MAC;
- each port's tap (its guest's NIC) on the bridge.

Security is one nftables table of civicloud's own, ``bridge civicloud``, replaced whole in one transaction
(``ruleset``): a frame from a port's tap must carry the port's MAC, and its IPv4 packets and ARP the port's
address (anti-spoofing); nothing else crosses. Every device made here is named ``cc…`` and tagged with the
alias ``civicloud:<network id>``; nothing else on the host is read as ours or touched.

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

    @property
    def tap(self) -> str:
        return tap_name(self.port_id)


@dataclass(frozen=True)
class RemotePort:
    mac: str
    tunnel_ip: str  # the host it is on


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


@dataclass(frozen=True)
class Actual:
    devices: tuple[Device, ...]
    fdb: frozenset[tuple[str, str, str]]  # (vxlan device, MAC, destination) of civicloud's VXLAN devices
    ruleset_digest: str | None  # ``digest`` of table bridge civicloud's sets and rules, None when it is absent


# -- actions --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    verb: str  # add_bridge, add_vxlan, attach, set_up, set_mtu, delete, add_fdb, del_fdb, rules, refuse
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
        elif b.mtu != mtu:
            actions.append(Action("set_mtu", br, {"mtu": mtu}))
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
                {"delete": {"table": {"family": "bridge", "name": TABLE}}}]}}))
        return actions
    if digest(wanted_keys(desired)) != actual.ruleset_digest:
        actions.append(Action("rules", TABLE, {"ruleset": ruleset(desired)}))
    return actions


def _is_ours(d: Device) -> bool:
    return d.name.startswith(PREFIX) and (d.alias or "").startswith(ALIAS_PREFIX)


# -- nftables -------------------------------------------------------------------------------------------------


# The table's sets: the (tap, MAC) and (tap, address) pairs the tenant ports may send from.
# Sets keep the rules few and fixed whatever the number of ports (a rule per port and check made 20,000 rules
# at 2,000 ports, which nft took over a minute to load).
SETS = {"port_macs": ["ifname", "ether_addr"], "port_ips": ["ifname", "ipv4_addr"]}
CHAINS = ("forward", "input")  # frames a port sends to another port, and to the host itself


def elements(desired: HostNetworks) -> dict[str, list[tuple[str, ...]]]:
    """The elements of each set, as tuples of text, sorted: what the table must hold."""
    ports = sorted((p for net in desired.networks for p in net.ports), key=lambda p: p.tap)
    return {"port_macs": [(p.tap, p.mac.lower()) for p in ports],
            # 0.0.0.0: a DHCP client's source before it has its address.
            "port_ips": sorted({(p.tap, a) for p in ports for a in (p.ip, "0.0.0.0")})}


def ruleset(desired: HostNetworks) -> dict[str, Any]:
    """The whole of table ``bridge civicloud`` as nftables JSON (``nft -j -f``), in one transaction: the table
    is made if absent, flushed, and filled, so that no frame ever crosses a half-written table. A frame a port's
    tap sends must carry the port's MAC; an IPv4 packet, the port's address (a DHCP request, 0.0.0.0, aside);
    an ARP packet, the port's MAC and address as its sender; nothing but IPv4 and ARP. What is dropped is
    counted, per check. Frames from anything but a port's tap (the VXLAN device, the owner's own) pass."""
    family = "bridge"
    table = {"family": family, "name": TABLE}
    commands: list[dict[str, Any]] = [{"add": {"table": table}}, {"flush": {"table": table}}]
    wanted = elements(desired)
    for name, types in SETS.items():
        body: dict[str, Any] = {"family": family, "table": TABLE, "name": name,
                                "type": types[0] if len(types) == 1 else types}
        commands.append({"add": {"set": body}})
        # A table's flush empties its chains, not its sets: each set is flushed, so a port gone leaves no element.
        commands.append({"flush": {"set": {"family": family, "table": TABLE, "name": name}}})
        if wanted[name]:
            commands.append({"add": {"element": {"family": family, "table": TABLE, "name": name, "elem": [
                e[0] if len(e) == 1 else {"concat": list(e)} for e in wanted[name]]}}})
    for chain in CHAINS:
        commands.append({"add": {"chain": {"family": family, "table": TABLE, "name": chain, "type": "filter",
                                           "hook": chain, "prio": -200, "policy": "accept"}}})
        commands.extend(_rule(family, chain, expr, comment) for expr, comment in _checks())
    return {"nftables": commands}


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


def table_keys(sets: dict[str, list[tuple[str, ...]]], rules: Iterable[tuple[str, str]]) -> list[Any]:
    """What identifies the table: each set's elements, each chain's rules by their comment."""
    return [sorted((name, list(e)) for name, items in sets.items() for e in items), sorted(rules)]


def wanted_keys(desired: HostNetworks) -> list[Any]:
    return table_keys(elements(desired), [(c, comment) for c in CHAINS for _e, comment in _checks()])


def digest(keys: list[Any]) -> str:
    """A digest of ``table_keys``: a table missing an element or a rule, holding one more, or gone, differs from
    the one wanted and is written again whole."""
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()
