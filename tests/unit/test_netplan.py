"""The hosts' data plan, pure: what is wanted against what the host holds gives the actions, and nothing of
anyone else's is ever among them. (The same plans run on real kernels in tests/agent/test_network_*.py.)"""

from __future__ import annotations

import pytest

from civicloud.agent.netplan import (
    Actual,
    Device,
    GroupHere,
    HostNetworks,
    LocalPort,
    NetworkOnHost,
    RemotePort,
    RuleHere,
    digest,
    plan,
    ruleset,
    table_keys,
    tap_name,
    wanted_keys,
    zones,
)

PORT = LocalPort("port-1", "02:AA:00:00:00:01", "10.20.0.2")
NET = NetworkOnHost("net-a", 5001, (PORT,), ("10.99.0.2",), (RemotePort("02:aa:00:00:00:02", "10.99.0.2"),))
WANTED = HostNetworks("10.99.0.1", 1500, (NET,))
ALIAS = "civicloud:net-a"


def held(*devices: Device, fdb: frozenset[tuple[str, str, str]] = frozenset(), rules: str | None = None) -> Actual:
    return Actual(devices, fdb, rules)


def converged() -> Actual:
    return held(Device("ccbr5001", "bridge", ALIAS, None, True, mtu=1450, filtered=True),
                Device("ccvx5001", "vxlan", ALIAS, "ccbr5001", True, 5001, "10.99.0.1", 1450),
                Device(PORT.tap, "tun", None, "ccbr5001", True),
                fdb=frozenset({("ccvx5001", "00:00:00:00:00:00", "10.99.0.2"),
                               ("ccvx5001", "02:aa:00:00:00:02", "10.99.0.2")}),
                rules=digest(wanted_keys(WANTED)))


def verbs(actions: list) -> list[str]:  # type: ignore[type-arg]
    return [str(a) for a in actions]


def test_from_nothing_the_bridge_comes_before_what_goes_on_it() -> None:
    got = verbs(plan(WANTED, held(Device(PORT.tap, "tun", None, None, True))))
    assert got == ["add_bridge ccbr5001 alias=civicloud:net-a mtu=1450",
                   "add_vxlan ccvx5001 alias=civicloud:net-a local=10.99.0.1 mtu=1450 port=4789 vni=5001",
                   "attach ccvx5001 master=ccbr5001", "set_up ccbr5001", "set_up ccvx5001",
                   f"attach {PORT.tap} master=ccbr5001",
                   "add_fdb ccvx5001 dst=10.99.0.2 mac=00:00:00:00:00:00",
                   "add_fdb ccvx5001 dst=10.99.0.2 mac=02:aa:00:00:00:02", "rules civicloud"]


def test_a_converged_host_needs_nothing() -> None:
    assert plan(WANTED, converged()) == []


@pytest.mark.parametrize(("case", "change", "expected"), [
    ("a VXLAN device from another address", {"ccvx5001": Device("ccvx5001", "vxlan", ALIAS, "ccbr5001", True, 5001,
                                                               "10.99.0.9", 1450)},
     ["delete ccvx5001", "add_vxlan ccvx5001", "attach ccvx5001 master=ccbr5001", "set_up ccvx5001",
      "add_fdb ccvx5001 dst=10.99.0.2 mac=00:00:00:00:00:00", "add_fdb ccvx5001 dst=10.99.0.2 mac=02:aa:00:00:00:02"]),
    ("a VXLAN device of another MTU", {"ccvx5001": Device("ccvx5001", "vxlan", ALIAS, "ccbr5001", True, 5001,
                                                         "10.99.0.1", 1500)}, ["set_mtu ccvx5001 mtu=1450"]),
    ("a bridge down", {"ccbr5001": Device("ccbr5001", "bridge", ALIAS, None, False, mtu=1450, filtered=True)},
     ["set_up ccbr5001"]),
    ("a bridge of another MTU", {"ccbr5001": Device("ccbr5001", "bridge", ALIAS, None, True, mtu=9000, filtered=True)},
     ["set_mtu ccbr5001 mtu=1450"]),
    # Its IPv4 packets would no longer pass the security groups' hooks.
    ("a bridge whose filter switch was turned off", {"ccbr5001": Device("ccbr5001", "bridge", ALIAS, None, True,
                                                                        mtu=1450, filtered=False)},
     ["set_filtered ccbr5001"]),
])
def test_what_drifted_is_put_back(case: str, change: dict[str, Device], expected: list[str]) -> None:
    now = converged()
    devices = tuple(change.get(d.name, d) for d in now.devices)
    got = [v.split(" alias=")[0] for v in verbs(plan(WANTED, Actual(devices, now.fdb, now.ruleset_digest)))]
    assert got == expected, case


def test_only_what_is_ours_is_ever_deleted() -> None:
    """An untagged device named like ours, the owner's bridge, and a stale forwarding entry of ours."""
    now = converged()
    extra = (Device("ccbr9999", "bridge", None, None, True), Device("br-owner", "bridge", None, None, True),
             Device("ccbr7000", "bridge", "civicloud:gone", None, True),
             Device("ccvx7000", "vxlan", "civicloud:gone", "ccbr7000", True, 7000, "10.99.0.1"))
    stale = now.fdb | {("ccvx5001", "02:aa:00:00:00:09", "10.99.0.3")}
    got = verbs(plan(WANTED, Actual(now.devices + extra, stale, now.ruleset_digest)))
    assert got == ["del_fdb ccvx5001 dst=10.99.0.3 mac=02:aa:00:00:00:09", "delete ccvx7000", "delete ccbr7000"]


def test_no_port_left_no_table_left() -> None:
    now = converged()
    got = plan(HostNetworks("10.99.0.1", 1500, ()), now)
    assert [a.verb for a in got] == ["delete", "delete", "rules"]
    assert got[-1].args["ruleset"] == {"nftables": [{"delete": {"table": {"family": "bridge", "name": "civicloud"}}}]}
    assert plan(HostNetworks("10.99.0.1", 1500, ()), held()) == []


def test_the_ruleset_is_a_fixed_set_of_rules_and_the_ports_are_set_elements() -> None:
    def ports(i: int) -> tuple[LocalPort, ...]:
        return tuple(LocalPort(f"p{i}-{j}", f"02:00:00:00:{i:02x}:{j:02x}", f"10.0.{i}.{j + 2}") for j in range(10))

    many = HostNetworks("10.99.0.1", 1500, tuple(NetworkOnHost(f"n{i}", 5000 + i, ports(i), ()) for i in range(20)))
    commands = ruleset(many)["nftables"]
    rules = [c["add"]["rule"] for c in commands if "rule" in c.get("add", {})]
    by_chain = {(r["family"], r["chain"]) for r in rules}
    # bridge: 6 checks in 2 chains; inet: a zone rule per network, 5 in forward, a drop in each chain of the
    # ports' one combination of groups (none here: nothing is let in or out but replies) — not a rule per port.
    assert sum(1 for r in rules if r["family"] == "bridge") == 12
    assert sum(1 for r in rules if r["chain"] == "zone") == 20
    assert sum(1 for r in rules if r["chain"] == "forward" and r["family"] == "inet") == 5
    assert len(by_chain) == 2 + 2 + 2
    elements = {(c["add"]["element"]["family"], c["add"]["element"]["name"]): c["add"]["element"]["elem"]
                for c in commands if "element" in c.get("add", {})}
    assert len(elements["bridge", "port_macs"]) == 200
    assert len(elements["bridge", "port_ips"]) == 400  # each port's address and 0.0.0.0 (DHCP)
    assert len(elements["inet", "egress"]) == len(elements["inet", "ingress"]) == 200
    # A table read back with one element fewer is not the one wanted.
    keys = wanted_keys(many)
    assert digest(keys) == digest(wanted_keys(many))
    fewer = table_keys({"bridge/port_macs": [], "bridge/port_ips": []}, [])
    assert digest(fewer) != digest(keys)


def test_tap_names_fit_an_interface_name() -> None:
    assert len(tap_name("0b5c1a2e-8f3d-4c71-9a0e-2f6d7c8b9a10")) <= 15
    assert tap_name("0b5c1a2e-8f3d") != tap_name("0b5c1a2f-8f3d")


def test_a_vxlan_device_made_again_gets_its_forwarding_entries_again() -> None:
    """A new tunnel address: the device is made again, and the entries the old one held are written again."""
    moved = HostNetworks("10.99.0.7", 1500, (NET,))
    got = verbs(plan(moved, converged()))
    assert "delete ccvx5001" in got
    assert "add_fdb ccvx5001 dst=10.99.0.2 mac=00:00:00:00:00:00" in got
    assert "add_fdb ccvx5001 dst=10.99.0.2 mac=02:aa:00:00:00:02" in got


def test_a_device_of_someone_else_with_our_name_is_never_touched() -> None:
    owner = held(Device("ccbr5001", "bridge", None, None, True, mtu=9000), Device(PORT.tap, "tun", None, None, True))
    got = plan(WANTED, owner)
    assert [a.verb for a in got if a.device in ("ccbr5001", "ccvx5001")] == ["refuse"]
    assert not any(a.verb == "attach" and a.args.get("master") == "ccbr5001" for a in got)


def test_a_tap_that_is_no_port_s_is_dropped_not_passed() -> None:
    """The rule that lets other devices' frames by names civicloud's taps by their prefix, so a tap of ours
    missing from the sets (a guest moved away, before its domain is gone) falls to the drop rules."""
    checks = [c["add"]["rule"] for c in ruleset(WANTED)["nftables"] if "rule" in c.get("add", {})]
    first = checks[0]
    assert first["comment"] == "not a tenant port"
    assert first["expr"][0]["match"] == {"op": "!=", "left": {"meta": {"key": "iifname"}}, "right": "cct*"}


WEB = GroupHere("g-web", (RuleHere("r1", "ingress", "tcp", 8080, 8090, "192.168.1.0/24"),
                          RuleHere("r2", "ingress", "icmp", remote_group="g-admin"),
                          RuleHere("r3", "egress", "any")))


def test_security_groups_become_chains_maps_and_member_sets() -> None:
    """A port of group web on this host; a port of group admin on another host of the same network: web's
    ingress chain lets in TCP 8080–8090 from the office's LAN and ICMP from admin's ports (the remote one
    included, known by its bridge and address), and drops the rest; the maps send each port's packets there."""
    web = LocalPort("port-web", "02:aa:00:00:00:01", "10.20.0.2", ("g-web",))
    admin = RemotePort("02:aa:00:00:00:02", "10.99.0.2", "10.20.0.3", ("g-admin",))
    wanted = HostNetworks("10.99.0.1", 1500, (NetworkOnHost("net-a", 5001, (web,), ("10.99.0.2",), (admin,)),),
                          (WEB,))
    commands = ruleset(wanted)["nftables"]
    rules = [c["add"]["rule"] for c in commands if "rule" in c.get("add", {})]
    ingress = [r for r in rules if r["chain"].startswith("i_")]
    assert [r["comment"] for r in ingress] == ["rule r1", "rule r2", "not allowed"]
    assert ingress[0]["expr"][:3] == [
        {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}},
                   "right": {"range": [8080, 8090]}}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                   "right": {"prefix": {"addr": "192.168.1.0", "len": 24}}}}]
    assert ingress[0]["expr"][-1] == {"return": None}
    assert ingress[1]["expr"][1]["match"]["right"] == "@m_g-admin"
    assert [r["comment"] for r in rules if r["chain"].startswith("e_")] == ["rule r3", "not allowed"]
    elements = {c["add"]["element"]["name"]: c["add"]["element"]["elem"] for c in commands
                if "element" in c.get("add", {}) and c["add"]["element"]["family"] == "inet"}
    assert elements["m_g-admin"] == [{"concat": ["ccbr5001", "10.20.0.3"]}]
    assert elements["ingress"] == [[{"concat": ["ccbr5001", "10.20.0.2"]}, {"jump": {"target": ingress[0]["chain"]}}]]
    zone = [r for r in rules if r["chain"] == "zone"]
    assert zone[0]["expr"][1] == {"mangle": {"key": {"ct": {"key": "zone"}}, "value": 5001 % 65535 + 1}}
    # A rule changed (another id) is another table: written again.
    changed = HostNetworks("10.99.0.1", 1500, wanted.networks, (GroupHere("g-web", (*WEB.rules[:2], RuleHere(
        "r4", "egress", "tcp", 443)),),))
    assert digest(wanted_keys(changed)) != digest(wanted_keys(wanted))


def test_networks_sharing_a_zone_number_get_distinct_zones() -> None:
    """A conntrack zone per network on a host, from its VNI; two VNIs 65,535 apart would share one: the second
    takes the next free one (networks of the same addresses must never share connection states)."""
    nets = tuple(NetworkOnHost(f"n{v}", v, (), ()) for v in (5000, 5000 + 65535, 5001))
    got = zones(HostNetworks("10.99.0.1", 1500, nets))
    assert len(set(got.values())) == 3 and got["ccbr5000"] == 5000 % 65535 + 1
