"""The tenant networks' data plane on real kernels: two hosts as two network namespaces joined by a veth
underlay, guests as namespaces of their own whose NIC's host end is the port's tap.

    host h1 (underlay 10.99.0.1)                       host h2 (underlay 10.99.0.2)
      ccbr5001 ─ ccvx5001 ══ VXLAN 5001 (A) ══════════ ccvx5001 ─ ccbr5001
        └ tap A1  guest 10.20.0.2                         └ tap A2  guest 10.20.0.3
      ccbr5002 ─ ccvx5002   (B: no other host)
        ├ tap B1  guest 10.20.0.3   (the same address as A2: another member's segment)
        └ tap B2  guest 10.20.0.4

Everything is planned by ``agent.netplan`` and carried out by ``NetlinkDataPlane`` (pyroute2, nft -j), as the
agent does. Pings go only to the namespaces the test made, and are bounded (one packet, one second).
"""

from __future__ import annotations

import pytest

from civicloud.agent.netplan import GroupHere, HostNetworks, LocalPort, NetworkOnHost, RemotePort, RuleHere, plan

from netns_support import Lab, ns, sh

pytestmark = pytest.mark.network


# The ports of these tests are in one group that lets everything in and out (the security groups' own tests
# are in test_security_groups.py): what is tested here is the segments and anti-spoofing.
OPEN = GroupHere("g-open", (RuleHere("open-in", "ingress", "any"), RuleHere("open-out", "egress", "any")))
A1 = LocalPort("a1-port-0000-aaaa", "02:aa:00:00:00:01", "10.20.0.2", ("g-open",))
A2 = LocalPort("a2-port-0000-aaaa", "02:aa:00:00:00:02", "10.20.0.3", ("g-open",))
B1 = LocalPort("b1-port-0000-bbbb", "02:bb:00:00:00:01", "10.20.0.3", ("g-open",))
B2 = LocalPort("b2-port-0000-bbbb", "02:bb:00:00:00:02", "10.20.0.4", ("g-open",))


def desired_h1(a_ports: tuple[LocalPort, ...] = (A1,), b_ports: tuple[LocalPort, ...] = (B1, B2)) -> HostNetworks:
    nets = [NetworkOnHost("net-a", 5001, a_ports, ("10.99.0.2",), (RemotePort(A2.mac, "10.99.0.2", A2.ip),)),
            NetworkOnHost("net-b", 5002, b_ports, ())]
    return HostNetworks("10.99.0.1", 1500, tuple(n for n in nets if n.ports), (OPEN,))


def desired_h2() -> HostNetworks:
    return HostNetworks("10.99.0.2", 1500, (
        NetworkOnHost("net-a", 5001, (A2,), ("10.99.0.1",), (RemotePort(A1.mac, "10.99.0.1", A1.ip),)),), (OPEN,))


def build(lab: Lab) -> None:
    lab.guest(lab.h1, A1)
    lab.guest(lab.h2, A2)
    lab.guest(lab.h1, B1)
    lab.guest(lab.h1, B2)
    assert lab.converge(lab.h1, desired_h1()) == []
    assert lab.converge(lab.h2, desired_h2()) == []


def test_a_members_guests_reach_each_other_across_hosts_and_no_one_else(lab: Lab) -> None:
    build(lab)
    assert lab.pings(A1, A2.ip)  # over VXLAN, from h1 to h2
    assert lab.pings(A2, A1.ip)
    assert lab.pings(B1, B2.ip)  # B's own segment on h1
    # B shares h1 with A and uses A2's address: it reaches neither of A's guests, and A1 reaches A2, not B1.
    assert not lab.pings(B1, A1.ip)
    # B1 silenced: 10.20.0.3 still answers A1 (it is A2, over VXLAN), and no longer answers B2 (A2 is not on B's
    # segment).
    ns(lab.guests[B1.port_id], "ip", "link", "set", "eth0", "down")
    assert lab.pings(A1, A2.ip)
    assert not lab.pings(B2, B1.ip)
    # Converged: a second pass has nothing to do, on either host.
    assert plan(desired_h1(), lab.planes[lab.h1].actual()) == []
    assert plan(desired_h2(), lab.planes[lab.h2].actual()) == []


def test_a_guest_cannot_send_from_another_address_or_mac(lab: Lab) -> None:
    build(lab)
    guest = lab.guests[B2.port_id]
    assert lab.pings(B2, B1.ip)
    # B2 takes an address that is not its port's (A1's, which it could not reach anyway, or a free one).
    for address in (A1.ip, "10.20.0.9"):
        ns(guest, "ip", "addr", "flush", "dev", "eth0")
        ns(guest, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        assert not lab.pings(B2, B1.ip), address
    ns(guest, "ip", "addr", "flush", "dev", "eth0")
    ns(guest, "ip", "addr", "add", f"{B2.ip}/24", "dev", "eth0")
    assert lab.pings(B2, B1.ip)
    # Another MAC: dropped too.
    ns(guest, "ip", "link", "set", "eth0", "address", "02:bb:00:00:00:99")
    assert not lab.pings(B2, B1.ip)
    listing = ns(lab.h1, "nft", "list", "table", "bridge", "civicloud").stdout
    mac_rules = [line for line in listing.splitlines() if 'comment "mac"' in line]
    assert mac_rules and any("packets 0 " not in r for r in mac_rules), listing  # the spoofed frames, counted


@pytest.mark.parametrize("killed_after", [1, 3, 5, 8])
def test_an_agent_killed_part_way_converges_on_its_next_pass(lab: Lab, killed_after: int) -> None:
    lab.guest(lab.h1, A1)
    lab.guest(lab.h2, A2)
    lab.guest(lab.h1, B1)
    lab.guest(lab.h1, B2)
    assert lab.converge(lab.h1, desired_h1(), first=killed_after) == []
    assert lab.converge(lab.h2, desired_h2()) == []
    assert lab.converge(lab.h1, desired_h1()) == []
    assert plan(desired_h1(), lab.planes[lab.h1].actual()) == []
    assert lab.pings(A1, A2.ip) and lab.pings(B1, B2.ip)


def test_a_wiped_host_is_repaired_and_an_unused_network_leaves_nothing(lab: Lab) -> None:
    build(lab)
    # A reboot-like wipe: the bridges, VXLAN devices and the table gone.
    for dev in ("ccvx5001", "ccbr5001", "ccvx5002", "ccbr5002"):
        ns(lab.h1, "ip", "link", "del", dev)
    ns(lab.h1, "nft", "delete", "table", "bridge", "civicloud")
    ns(lab.h1, "nft", "delete", "table", "inet", "civicloud")
    assert not lab.pings(A1, A2.ip)
    assert lab.converge(lab.h1, desired_h1()) == []
    assert lab.pings(A1, A2.ip) and lab.pings(B1, B2.ip)
    # B's workloads leave h1: its bridge and VXLAN device go; A's stay.
    for port in (B1, B2):
        sh("ip", "netns", "del", lab.guests.pop(port.port_id))
    assert lab.converge(lab.h1, desired_h1(b_ports=())) == []
    assert plan(desired_h1(b_ports=()), lab.planes[lab.h1].actual()) == []  # B's set elements went too
    listing = ns(lab.h1, "nft", "list", "table", "bridge", "civicloud").stdout
    assert B1.mac not in listing and B2.ip not in listing
    links = ns(lab.h1, "ip", "-o", "link").stdout
    assert "ccbr5002" not in links and "ccvx5002" not in links and "ccbr5001" in links
    assert lab.pings(A1, A2.ip)
    # And when no workload of any network is left, nothing of civicloud's is: no device, no table.
    sh("ip", "netns", "del", lab.guests.pop(A1.port_id))
    assert lab.converge(lab.h1, HostNetworks("10.99.0.1", 1500, ())) == []
    assert "cc" not in " ".join(line.split(":")[1] for line in ns(lab.h1, "ip", "-o", "link").stdout.splitlines())
    assert ns(lab.h1, "nft", "list", "table", "bridge", "civicloud", check=False).returncode != 0
    assert ns(lab.h1, "nft", "list", "table", "inet", "civicloud", check=False).returncode != 0


def test_what_is_not_civicloud_s_is_left_alone(lab: Lab) -> None:
    """The owner's own bridge (even one named like ours, without our tag) stays, and so do its rules."""
    ns(lab.h1, "ip", "link", "add", "ccbr9999", "type", "bridge")  # named like ours, not tagged
    ns(lab.h1, "ip", "link", "add", "owner-br", "type", "bridge")
    ns(lab.h1, "nft", "add", "table", "inet", "owner")
    build(lab)
    assert lab.converge(lab.h1, HostNetworks("10.99.0.1", 1500, ())) == []
    links = ns(lab.h1, "ip", "-o", "link").stdout
    assert "ccbr9999" in links and "owner-br" in links and "ccbr5001" not in links
    assert ns(lab.h1, "nft", "list", "table", "inet", "owner", check=False).returncode == 0
