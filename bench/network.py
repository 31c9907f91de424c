"""How long the agent takes to program a host's tenant networks, and what VXLAN costs in throughput.

In a network namespace of its own (root), as ``agent.netplan`` plans and ``NetlinkDataPlane`` applies:

- from nothing to N networks × P ports (each network with a peer host and its remote MACs; the ports' taps
  already there, as the hypervisor makes them — taps with no guest behind): the first pass, the pass after, which
  has nothing to do (read the host, plan), and the pass after one more port;
- with iperf3 (when installed) between two namespaces: TCP over the bare veth underlay, then between two
  guests over VXLAN on it, 5 s each; the ratio.

Reported as a table and bench/results/network.json. The goal of issue #12: 200 networks × 10 ports in at most 5 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from civicloud.agent.drivers.netlink import NetlinkDataPlane
from civicloud.agent.netplan import GroupHere, HostNetworks, LocalPort, NetworkOnHost, RemotePort, RuleHere, plan

from netns_support import Lab, ns, sh
from report import publish

# Every port in a group like a member's default one: all out, all in from the group's own ports (its member
# set then holds every port of the host's networks, here and on the other host).
DEFAULT = GroupHere("g-default", (RuleHere("out", "egress", "any"),
                                  RuleHere("in", "ingress", "any", remote_group="g-default")))


def _desired(networks: int, ports: int, extra: int = 0) -> HostNetworks:
    nets = []
    for n in range(networks):
        local = tuple(LocalPort(f"p{n:04d}x{p:03d}", f"02:00:00:{n >> 8:02x}:{n & 255:02x}:{p:02x}",
                                f"10.{n >> 8}.{n & 255}.{p + 2}", (DEFAULT.id,))
                      for p in range(ports + (extra if n == 0 else 0)))
        remote = tuple(RemotePort(f"02:01:00:{n >> 8:02x}:{n & 255:02x}:{p:02x}", "10.99.0.2",
                                  f"10.{n >> 8}.{n & 255}.{p + 130}", (DEFAULT.id,)) for p in range(ports))
        nets.append(NetworkOnHost(f"net-{n}", 5000 + n, local, ("10.99.0.2",), remote))
    return HostNetworks("10.99.0.1", 1500, tuple(nets), (DEFAULT,))


def _taps(netns: str, desired: HostNetworks) -> None:
    """The hypervisor's part: a tap per port, named as the port's (made in one batch, no guest behind)."""
    batch = "".join(f"tuntap add dev {p.tap} mode tap\nlink set {p.tap} up\n"
                    for net in desired.networks for p in net.ports)
    subprocess.run(["ip", "-n", netns, "-batch", "-"], input=batch, text=True, check=True)


def programming(networks: int, ports: int) -> dict[str, float | int]:
    netns = f"ccbench{uuid.uuid4().hex[:6]}"
    sh("ip", "netns", "add", netns)
    try:
        plane = NetlinkDataPlane(netns)
        desired = _desired(networks, ports)
        _taps(netns, desired)
        t0 = time.perf_counter()
        actions = plan(desired, plane.actual())
        errors = plane.apply(actions)
        first = time.perf_counter() - t0
        assert not errors, errors[:3]
        t0 = time.perf_counter()
        idle_actions = plan(desired, plane.actual())
        idle = time.perf_counter() - t0
        assert idle_actions == [], [str(a) for a in idle_actions[:5]]
        more = _desired(networks, ports, extra=1)
        _taps(netns, HostNetworks(more.tunnel_ip, more.mtu, (NetworkOnHost(
            "x", 0, (more.networks[0].ports[-1],), ()),)))
        t0 = time.perf_counter()
        errors = plane.apply(plan(more, plane.actual()))
        one_more = time.perf_counter() - t0
        assert not errors, errors[:3]
        rules = [*json.loads(ns(netns, "nft", "-j", "list", "table", "bridge", "civicloud").stdout)["nftables"],
                 *json.loads(ns(netns, "nft", "-j", "list", "table", "inet", "civicloud").stdout)["nftables"]]
        return {"networks": networks, "ports": networks * ports, "actions_first_pass": len(actions),
                "first_pass_s": round(first, 2), "idle_pass_s": round(idle, 3), "one_more_port_s": round(one_more, 2),
                "nft_rules": sum(1 for r in rules if "rule" in r)}
    finally:
        sh("ip", "netns", "del", netns, check=False)


def throughput(seconds: int) -> dict[str, float]:
    """iperf3 between two namespaces over the bare veth, then between two guests over VXLAN on it."""
    if shutil.which("iperf3") is None:
        return {"iperf3": 0.0}
    from civicloud.agent.netplan import HostNetworks as HN

    lab = Lab()
    try:
        a = LocalPort("bench-a-port-000", "02:aa:00:00:00:01", "10.20.0.2", (DEFAULT.id,))
        b = LocalPort("bench-b-port-000", "02:aa:00:00:00:02", "10.20.0.3", (DEFAULT.id,))
        ga, gb = lab.guest(lab.h1, a), lab.guest(lab.h2, b)
        lab.converge(lab.h1, HN("10.99.0.1", 1500, (NetworkOnHost("n", 5001, (a,), ("10.99.0.2",), (
            RemotePort(b.mac, "10.99.0.2", b.ip, b.groups),)),), (DEFAULT,)))
        lab.converge(lab.h2, HN("10.99.0.2", 1500, (NetworkOnHost("n", 5001, (b,), ("10.99.0.1",), (
            RemotePort(a.mac, "10.99.0.1", a.ip, a.groups),)),), (DEFAULT,)))

        def gbps(client_ns: str, server_ns: str, address: str) -> float:
            server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            try:
                out = ns(client_ns, "iperf3", "-c", address, "-t", str(seconds), "-J").stdout
            finally:
                server.wait(seconds + 10)
            return round(json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9, 2)

        bare = gbps(lab.h1, lab.h2, "10.99.0.2")
        vxlan = gbps(ga, gb, b.ip)
        return {"bare_veth_gbps": bare, "vxlan_gbps": vxlan, "vxlan_to_bare": round(vxlan / bare, 2)}
    finally:
        lab.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--networks", type=int, default=200)
    parser.add_argument("--ports", type=int, default=10, help="ports per network")
    parser.add_argument("--iperf-seconds", type=int, default=5)
    args = parser.parse_args()
    result: dict[str, object] = {}
    result.update(programming(args.networks, args.ports))
    result.update(throughput(args.iperf_seconds))
    publish("network", result)


if __name__ == "__main__":
    main()
