"""Security groups on real kernels: two hosts as network namespaces joined by a VXLAN underlay, guests as
namespaces of their own; every rule planned by ``agent.netplan`` and loaded by ``NetlinkDataPlane``, as the agent
does. TCP connections and pings go only to the namespaces the test made, and are bounded (one second each).

    host h1 (underlay 10.99.0.1)                       host h2 (underlay 10.99.0.2)
      ccbr5001 ─ ccvx5001 ══ VXLAN 5001 ══════════════ ccvx5001 ─ ccbr5001
        ├ tap WEB  10.20.0.2  group web                   └ tap ADM  10.20.0.4  group admin
        └ tap APP  10.20.0.3  group app

    web:   in TCP 8080 from the ports of admin; out anything
    app:   out anything (nothing in)
    admin: out anything (nothing in: what it gets back are replies)
"""

from __future__ import annotations

import pytest

from civicloud.agent.netplan import GroupHere, HostNetworks, LocalPort, NetworkOnHost, RemotePort, RuleHere, plan

from netns_support import Lab, ns

pytestmark = pytest.mark.network

OUT = RuleHere("out-any", "egress", "any")
WEB_IN = RuleHere("web-8080", "ingress", "tcp", 8080, None, None, "g-admin")
WEB = GroupHere("g-web", (WEB_IN, OUT))
APP = GroupHere("g-app", (RuleHere("app-out", "egress", "any"),))
ADMIN = GroupHere("g-admin", (RuleHere("admin-out", "egress", "any"),))
W = LocalPort("web-port-000000", "02:aa:00:00:00:01", "10.20.0.2", ("g-web",))
P = LocalPort("app-port-000000", "02:aa:00:00:00:02", "10.20.0.3", ("g-app",))
A = LocalPort("adm-port-000000", "02:aa:00:00:00:03", "10.20.0.4", ("g-admin",))


def on_h1(web: GroupHere = WEB) -> HostNetworks:
    return HostNetworks("10.99.0.1", 1500, (NetworkOnHost("net-a", 5001, (W, P), ("10.99.0.2",), (
        RemotePort(A.mac, "10.99.0.2", A.ip, A.groups),)),), (web, APP))


def on_h2() -> HostNetworks:
    return HostNetworks("10.99.0.2", 1500, (NetworkOnHost("net-a", 5001, (A,), ("10.99.0.1",), (
        RemotePort(W.mac, "10.99.0.1", W.ip, W.groups), RemotePort(P.mac, "10.99.0.1", P.ip, P.groups))),),
        (ADMIN,))


def build(lab: Lab) -> None:
    for host, port in ((lab.h1, W), (lab.h1, P), (lab.h2, A)):
        lab.guest(host, port)
    assert lab.converge(lab.h1, on_h1()) == []
    assert lab.converge(lab.h2, on_h2()) == []
    lab.listen(W, 8080)
    lab.listen(W, 9090)


def test_a_port_lets_in_what_its_groups_allow_and_the_replies_of_what_it_opened(lab: Lab) -> None:
    build(lab)
    # The admin's port (another host, over VXLAN) reaches web's 8080: a rule naming its group. The answer comes
    # back although admin lets nothing in: it is a reply (connection tracking, in the network's zone).
    assert lab.connects(A, W.ip, 8080)
    # Not another port: 9090 is in no rule.
    assert not lab.connects(A, W.ip, 9090)
    # app is not in group admin: web's 8080 is closed to it, on the same host and bridge.
    assert not lab.connects(P, W.ip, 8080)
    # Nothing comes into app or admin: no ingress rule.
    assert not lab.pings(W, P.ip) and not lab.pings(W, A.ip)
    assert not lab.pings(A, W.ip)  # web lets in TCP 8080, not ICMP
    listing = ns(lab.h1, "nft", "list", "table", "inet", "civicloud").stdout
    assert "not allowed" in listing and "ct state established,related accept" in listing, listing
    # Converged: nothing to do on either host.
    assert plan(on_h1(), lab.planes[lab.h1].actual()) == []
    assert plan(on_h2(), lab.planes[lab.h2].actual()) == []


def test_a_rule_added_or_removed_takes_effect_at_the_next_pass(lab: Lab) -> None:
    build(lab)
    assert not lab.pings(A, W.ip)
    pingable = GroupHere("g-web", (WEB_IN, OUT, RuleHere("web-icmp", "ingress", "icmp", remote_cidr="10.20.0.0/24")))
    assert lab.converge(lab.h1, on_h1(pingable)) == []
    assert lab.pings(A, W.ip) and lab.pings(P, W.ip)  # ICMP from the network's range, whatever the group
    assert not lab.connects(P, W.ip, 8080)  # the TCP rule still names admin only
    assert lab.converge(lab.h1, on_h1()) == []  # the ICMP rule removed
    assert plan(on_h1(), lab.planes[lab.h1].actual()) == []  # and nothing of it left over (no chain, no element)
    assert not lab.pings(A, W.ip)
    assert lab.connects(A, W.ip, 8080)


def test_egress_rules_hold_what_a_port_may_open(lab: Lab) -> None:
    """web may open nothing but TCP 8080 towards admin's ports: its pings stop at its own host."""
    build(lab)
    lab.listen(A, 8080)
    admin_open = GroupHere("g-admin", (RuleHere("admin-out", "egress", "any"), RuleHere("admin-in", "ingress", "any")))
    assert lab.converge(lab.h2, HostNetworks("10.99.0.2", 1500, on_h2().networks, (admin_open,))) == []
    assert lab.pings(W, A.ip)  # web's egress: anything
    only_tcp_to_admin = GroupHere("g-web", (WEB_IN, RuleHere("web-out", "egress", "tcp", 8080, None, None,
                                                             "g-admin")))
    assert lab.converge(lab.h1, on_h1(only_tcp_to_admin)) == []
    assert not lab.pings(W, A.ip)
    assert lab.connects(W, A.ip, 8080)
    listing = ns(lab.h1, "nft", "list", "table", "inet", "civicloud").stdout
    assert any("not allowed" in line and "packets 0 " not in line for line in listing.splitlines()), listing


def test_the_owners_bridges_are_not_filtered(lab: Lab) -> None:
    """Only civicloud's bridges pass their packets to the inet hooks: the host-wide switch stays as it was,
    and an owner's bridge keeps its own."""
    before = ns(lab.h1, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout
    ns(lab.h1, "ip", "link", "add", "owner-br", "type", "bridge")
    build(lab)
    assert ns(lab.h1, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout == before
    details = ns(lab.h1, "ip", "-d", "link", "show", "owner-br").stdout
    assert "nf_call_iptables 0" in details, details
    assert "nf_call_iptables 1" in ns(lab.h1, "ip", "-d", "link", "show", "ccbr5001").stdout
    # Turned off behind the agent's back: the next pass turns it on again.
    ns(lab.h1, "ip", "link", "set", "ccbr5001", "type", "bridge", "nf_call_iptables", "0")
    assert [a.verb for a in plan(on_h1(), lab.planes[lab.h1].actual())] == ["set_filtered"]
    assert lab.converge(lab.h1, on_h1()) == []
    assert "nf_call_iptables 1" in ns(lab.h1, "ip", "-d", "link", "show", "ccbr5001").stdout
