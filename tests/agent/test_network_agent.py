"""Tenant networks from the API to the wire: a real control plane, two agents each programming its own host (a
network namespace) from the desired state, guests whose NICs have the MACs and addresses the IPAM gave.

    control plane (HTTP on loopback, SQLite)
      Bobigny: network "office" 10.20.0.0/24, placement group "spread" (different_host)
    site drancy ── agent 1 ── hv1 (libvirt test driver) ── host namespace h1, tunnel 10.99.0.1
                └─ agent 2 ── hv2 (libvirt test driver) ── host namespace h2, tunnel 10.99.0.2

The libvirt test driver makes no tap: the test plays the hypervisor's part and plugs a guest namespace into
each host with the port's tap name, MAC and address, as QEMU would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.agent.netplan import LocalPort
from civicloud.agent.runner import Agent, TenantNetworks
from civicloud.wire import (
    NetworkCreate,
    NicIn,
    PlacementGroupCreate,
    RuleIn,
    SecurityGroupCreate,
    SubnetIn,
    WorkloadCreate,
    WorkloadOut,
)

from netns_support import Lab, ns

pytestmark = [pytest.mark.network, pytest.mark.libvirt]


def _until(check, agents: list[Agent], timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        for agent in agents:
            agent.tick()
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("the region did not get there in time")
        time.sleep(0.1)


def test_a_members_workloads_on_two_hosts_share_their_network(live_region, node_file, lab: Lab,
                                                               tmp_path: Path) -> None:
    api = live_region.api
    agents = []
    for i, (netns, tunnel) in enumerate(((lab.h1, "10.99.0.1"), (lab.h2, "10.99.0.2")), start=1):
        driver = LibvirtDriver(node_file(f"hv{i}"), f"hv{i}")
        agents.append(Agent(api.base_url, tmp_path / f"agent{i}", [driver], join_token=live_region.join_token(),
                            networks=TenantNetworks(tunnel, 1500, lab.planes[netns], resync_s=0)))
    for agent in agents:
        agent.tick()  # joined, hosts and their tunnel addresses known
    api.create_network(NetworkCreate(member_id=live_region.bobigny_id, name="office",
                                     subnets=[SubnetIn(cidr="10.20.0.0/24")]))
    api.create_group(PlacementGroupCreate(member_id=live_region.bobigny_id, name="spread", policy="different_host"))
    made = [api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small", name=name,
                                               group="spread", networks=[NicIn(network="office")]))
            for name in ("app", "db")]

    def running() -> list[WorkloadOut] | None:
        now = [api.get_workload(w.id) for w in made]
        return now if all(w.state.value == "running" for w in now) else None

    placed = _until(running, agents)
    hosts = {h.id: h.name for h in api.list_hosts()}
    host_ns = {"hv1": lab.h1, "hv2": lab.h2}
    on = {w.name: host_ns[hosts[w.host_id or ""]] for w in placed}
    assert on["app"] != on["db"]  # the group spread them: the network spans both hosts
    ports = {w.name: LocalPort(w.nics[0].port_id, w.nics[0].mac, w.nics[0].ip) for w in placed}
    for name, port in ports.items():
        lab.guest(on[name], port)  # the hypervisor's part: the guest's NIC, its tap on the host
    for agent in agents:
        agent.tick()  # the taps go on their network's bridge
    assert lab.pings(ports["app"], ports["db"].ip)
    assert lab.pings(ports["db"], ports["app"].ip)
    assert all(agent.network_errors == [] for agent in agents)
    vni = api.list_networks()[0].vni
    fdb = ns(on["app"], "bridge", "fdb", "show", "dev", f"ccvx{vni}").stdout
    other_tunnel = "10.99.0.2" if on["app"] == lab.h1 else "10.99.0.1"
    assert f"{ports['db'].mac} dst {other_tunnel}" in fdb  # l2population from the control plane's knowledge
    # What each agent applied reaches the control plane with its next heartbeat: `network show` lists both hosts,
    # their tunnel endpoints, and "applied".
    for agent in agents:
        agent.tick()
    shown = api.get_network(api.list_networks()[0].id)
    assert sorted((h.host_name, h.tunnel_ip, h.ports, h.data_plane) for h in shown.hosts) == [
        ("hv1", "10.99.0.1", 1, "applied"), ("hv2", "10.99.0.2", 1, "applied")]
    plane = api.get_host(placed[0].host_id or "").data_plane
    assert plane is not None and (plane.networks, plane.ports, plane.errors) == (1, 1, []) and len(plane.digest) == 64

    # Security groups, from the API to the hosts: a third workload in a group of its own, "sealed" (all out,
    # nothing in). app and db (the default group: all in from its own ports) and vault do not reach each other.
    sealed = api.create_security_group(SecurityGroupCreate(member_id=live_region.bobigny_id, name="sealed"))
    vault = api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small", name="vault",
                                               networks=[NicIn(network="office", security_groups=["sealed"])]))
    vault = _until(lambda: (lambda w: w if w.state.value == "running" else None)(api.get_workload(vault.id)), agents)
    vault_port = LocalPort(vault.nics[0].port_id, vault.nics[0].mac, vault.nics[0].ip)
    lab.guest(host_ns[hosts[vault.host_id or ""]], vault_port)
    for agent in agents:
        agent.tick()
    assert not lab.pings(ports["app"], vault_port.ip) and not lab.pings(vault_port, ports["app"].ip)
    assert lab.pings(ports["app"], ports["db"].ip)
    # sealed lets ICMP in from the default group's ports: app pings vault (its answers come back: replies);
    # vault still reaches no one (the default group lets in its own ports only).
    api.add_security_rule(sealed.id, RuleIn(direction="ingress", protocol="icmp", remote_group="default"))
    for agent in agents:
        agent.tick()
    assert lab.pings(ports["app"], vault_port.ip) and lab.pings(ports["db"], vault_port.ip)
    assert not lab.pings(vault_port, ports["db"].ip)
    assert all(agent.network_errors == [] for agent in agents)
    api.delete_workload(vault.id)
    _until(lambda: api.get_workload(vault.id).state.value == "deleted", agents)

    # db deleted: its host keeps nothing of the network, and app's host forgets the way to it.
    api.delete_workload(next(w.id for w in placed if w.name == "db"))
    _until(lambda: api.get_workload(next(w.id for w in placed if w.name == "db")).state.value == "deleted", agents)
    for agent in agents:
        agent.tick()
    assert f"ccbr{vni}" not in ns(on["db"], "ip", "-o", "link").stdout
    assert ns(on["db"], "nft", "list", "table", "bridge", "civicloud", check=False).returncode != 0
    assert other_tunnel not in ns(on["app"], "bridge", "fdb", "show", "dev", f"ccvx{vni}").stdout


def test_an_unchanged_host_is_read_back_only_at_each_resync(live_region, node_file, lab: Lab, tmp_path: Path) -> None:
    """Between resyncs a pass whose wanted networks did not change does not read the host; the resync repairs."""
    api = live_region.api
    agent = Agent(api.base_url, tmp_path / "agent", [LibvirtDriver(node_file("hv1"), "hv1")],
                  join_token=live_region.join_token(),
                  networks=TenantNetworks("10.99.0.1", 1500, lab.planes[lab.h1], resync_s=3600))
    agent.tick()
    w = api.create_workload(WorkloadCreate(member_id=live_region.bobigny_id, offering_id="vm.small", name="app"))
    _until(lambda: api.get_workload(w.id).state.value == "running", [agent])
    vni = api.list_networks()[0].vni
    assert f"ccbr{vni}" in ns(lab.h1, "ip", "-o", "link").stdout
    ns(lab.h1, "ip", "link", "del", f"ccbr{vni}")  # wiped behind the agent's back
    assert agent.program_networks(api_state(agent)) == []  # nothing changed as far as it knows: not read
    agent.networks = TenantNetworks("10.99.0.1", 1500, lab.planes[lab.h1], resync_s=0)  # the resync is due
    assert any(a.verb == "add_bridge" for a in agent.program_networks(api_state(agent)))
    assert f"ccbr{vni}" in ns(lab.h1, "ip", "-o", "link").stdout


def api_state(agent: Agent):  # type: ignore[no-untyped-def]
    return agent.client.desired().networks
