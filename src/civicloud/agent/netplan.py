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
    ruleset_digest: str | None  # ``digest`` of table bridge civicloud's chains and rules, None when it is absent


# -- actions --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    verb: str  # add_bridge, add_vxlan, attach, set_up, set_mtu, delete, add_fdb, del_fdb, rules
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
    mtu = desired.mtu - VXLAN_OVERHEAD
    for net in sorted(desired.networks, key=lambda n: n.vni):
        alias = f"{ALIAS_PREFIX}{net.network_id}"
        br, vx = bridge_name(net.vni), vxlan_name(net.vni)
        wanted_devices |= {br, vx}
        b = have.get(br)
        if b is None or b.kind != "bridge":
            if b is not None and _is_ours(b):
                actions.append(Action("delete", br))
            actions.append(Action("add_bridge", br, {"alias": alias, "mtu": mtu}))
            b = None
        elif b.mtu != mtu:
            actions.append(Action("set_mtu", br, {"mtu": mtu}))
        v = have.get(vx)
        if v is None or v.kind != "vxlan" or v.vni != net.vni or v.local != desired.tunnel_ip:
            if v is not None and _is_ours(v):
                actions.append(Action("delete", vx))
            actions.append(Action("add_vxlan", vx, {"alias": alias, "vni": net.vni, "local": desired.tunnel_ip,
                                                   "port": VXLAN_PORT, "mtu": mtu}))
            v = None
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
    for entry in sorted(wanted_fdb - actual.fdb):
        actions.append(Action("add_fdb", entry[0], {"mac": entry[1], "dst": entry[2]}))
    for entry in sorted(actual.fdb - wanted_fdb):
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
    rules = ruleset(desired)
    if digest(rule_keys(rules)) != actual.ruleset_digest:
        actions.append(Action("rules", TABLE, {"ruleset": rules}))
    return actions


def _is_ours(d: Device) -> bool:
    return d.name.startswith(PREFIX) and (d.alias or "").startswith(ALIAS_PREFIX)


# -- nftables -------------------------------------------------------------------------------------------------


def ruleset(desired: HostNetworks) -> dict[str, Any]:
    """The whole of table ``bridge civicloud`` as nftables JSON (``nft -j -f``), in one transaction: the table
    is made if absent, flushed, and filled, so that no frame ever crosses a half-written table. A frame a port's
    tap sends must carry the port's MAC; an IPv4 packet, the port's address (a DHCP request, 0.0.0.0, aside);
    an ARP packet, the port's MAC and address as its sender. Everything else from the tap is dropped, and
    counted."""
    family = "bridge"
    table = {"family": family, "name": TABLE}
    chain = {"family": family, "table": TABLE, "name": "forward", "type": "filter", "hook": "forward",
             "prio": -200, "policy": "accept"}
    commands: list[dict[str, Any]] = [
        {"add": {"table": table}}, {"flush": {"table": table}},
        {"add": {"chain": chain}},
        {"add": {"chain": {"family": family, "table": TABLE, "name": "input", "type": "filter", "hook": "input",
                           "prio": -200, "policy": "accept"}}},
    ]
    ports = [p for net in desired.networks for p in net.ports]
    for p in sorted(ports, key=lambda p: p.tap):
        for hook in ("forward", "input"):
            commands.extend(_port_rules(family, hook, p))
    return {"nftables": commands}


def _match(left: dict[str, Any], op: str, right: Any) -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _payload(protocol: str, fld: str) -> dict[str, Any]:
    return {"payload": {"protocol": protocol, "field": fld}}


def _rule(family: str, chain: str, expr: Sequence[dict[str, Any]], comment: str) -> dict[str, Any]:
    return {"add": {"rule": {"family": family, "table": TABLE, "chain": chain, "expr": list(expr),
                             "comment": comment}}}


def _port_rules(family: str, chain: str, p: LocalPort) -> list[dict[str, Any]]:
    tap = _match({"meta": {"key": "iifname"}}, "==", p.tap)
    mac = p.mac.lower()
    drop = [{"counter": None}, {"drop": None}]
    return [
        # Not its MAC: dropped, whatever it carries.
        _rule(family, chain, [tap, _match(_payload("ether", "saddr"), "!=", mac), *drop], f"{p.port_id} mac"),
        # IPv4 not from its address (DHCP's 0.0.0.0 aside).
        _rule(family, chain, [tap, _match(_payload("ether", "type"), "==", "ip"),
                              _match(_payload("ip", "saddr"), "!=", {"set": [p.ip, "0.0.0.0"]}), *drop],
              f"{p.port_id} ip"),
        # ARP that claims another MAC or address.
        _rule(family, chain, [tap, _match(_payload("ether", "type"), "==", "arp"),
                              _match(_payload("arp", "saddr ether"), "!=", mac), *drop], f"{p.port_id} arp mac"),
        _rule(family, chain, [tap, _match(_payload("ether", "type"), "==", "arp"),
                              _match(_payload("arp", "saddr ip"), "!=", {"set": [p.ip, "0.0.0.0"]}), *drop],
              f"{p.port_id} arp ip"),
        # Only IPv4 and ARP from a port (no IPv6 yet, no other protocol to spoof with).
        _rule(family, chain, [tap, _match(_payload("ether", "type"), "!=", {"set": ["ip", "arp"]}), *drop],
              f"{p.port_id} ethertype"),
    ]


def rule_keys(rules: dict[str, Any]) -> list[tuple[str, str]]:
    """What identifies a ruleset as ``ruleset`` writes it: its chains, and each rule's chain and comment (which
    names the port and the check). The driver reads the same from the table the kernel holds."""
    keys: list[tuple[str, str]] = []
    for command in rules["nftables"]:
        body = command.get("add", {})
        if "chain" in body:
            keys.append(("chain", body["chain"]["name"]))
        elif "rule" in body:
            keys.append((body["rule"]["chain"], body["rule"].get("comment", "")))
    return keys


def digest(keys: Iterable[tuple[str, str]]) -> str:
    """A digest of a table's chains and rules (``rule_keys``): a table missing a rule, holding one more, or
    gone, differs from the one wanted and is written again whole."""
    return hashlib.sha256(json.dumps(sorted(keys)).encode()).hexdigest()


def networks_here(items: Iterable[NetworkOnHost]) -> tuple[NetworkOnHost, ...]:
    """The networks that have at least one port on the host (only those are kept there)."""
    return tuple(n for n in items if n.ports)
