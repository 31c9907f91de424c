"""/api/v1/networks, /ports and /security-groups: create → read → conflict → delete, on SQLite and PostgreSQL.

    member Bobigny: network "office" 10.20.0.0/24 (and its default network 10.64.0.0/22 once a workload
                    names none), security groups "default" (made with its first network) and "web"
    member Drancy:  network "office" 10.20.0.0/24 too — its own segment, another VNI
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud_support import API, Region, error_code, host_report, ok


def network(client: TestClient, member: str, name: str = "office", cidr: str = "10.20.0.0/24",
            **extra: Any) -> Any:
    return ok(client.post(f"{API}/networks", json={"member_id": member, "name": name,
                                                   "subnets": [{"cidr": cidr}], **extra}), 201)


def workload(client: TestClient, region: Region, name: str, member: str = "Bobigny", **extra: Any) -> Any:
    body = {"member_id": region.members[member], "offering_id": "vm-small", "name": name, **extra}
    return ok(client.post(f"{API}/workloads", json=body), 202)


# -- networks ---------------------------------------------------------------------------------------------------


def test_create_read_and_list(client: TestClient, region: Region) -> None:
    net = network(client, "Bobigny")
    assert (net["name"], net["member_id"], net["ports"]) == ("office", region.members["Bobigny"], 0)
    assert net["subnets"] == [{"cidr": "10.20.0.0/24", "gateway": "10.20.0.1", "dns": [], "capacity": 253}]
    assert 4096 <= net["vni"] < 1 << 24 and net["internet_egress"] is False
    assert ok(client.get(f"{API}/networks/{net['id']}"), 200) == net
    assert [n["id"] for n in ok(client.get(f"{API}/networks"), 200)] == [net["id"]]
    # The member's default security group comes with its first network: all out, all in from its own ports.
    groups = ok(client.get(f"{API}/security-groups?member_id=Bobigny"), 200)
    assert [(g["name"], [(r["direction"], r["protocol"], r["remote_group_id"]) for r in g["rules"]])
            for g in groups] == [("default", [("egress", "any", None), ("ingress", "any", groups[0]["id"])])]


def test_members_may_choose_the_same_range_each_on_its_own_segment(client: TestClient, region: Region) -> None:
    ours = network(client, "Bobigny")
    theirs = network(client, "Drancy")
    assert ours["subnets"] == theirs["subnets"]
    assert ours["vni"] != theirs["vni"]


def test_several_subnets_gateway_and_dns(client: TestClient, region: Region) -> None:
    net = ok(client.post(f"{API}/networks", json={"member_id": "Bobigny", "name": "lab", "subnets": [
        {"cidr": "192.168.10.0/29", "gateway": "192.168.10.6", "dns": ["9.9.9.9", "192.168.10.1"]},
        {"cidr": "192.168.11.0/24"}]}), 201)
    assert [(s["gateway"], s["dns"], s["capacity"]) for s in net["subnets"]] == [
        ("192.168.10.6", ["9.9.9.9", "192.168.10.1"], 5), ("192.168.11.1", [], 253)]


@pytest.mark.parametrize(("case", "subnets", "status", "code"), [
    ("overlapping subnets", [{"cidr": "10.0.0.0/24"}, {"cidr": "10.0.0.128/25"}], 422,
     "civicloud.network.overlapping_subnets"),
    ("larger than /16", [{"cidr": "10.0.0.0/15"}], 422, "civicloud.network.cidr_size"),
    ("smaller than /29", [{"cidr": "10.0.0.0/30"}], 422, "civicloud.network.cidr_size"),
    ("host bits set", [{"cidr": "10.0.0.1/24"}], 422, "civicloud.network.invalid_cidr"),
    ("not an address", [{"cidr": "300.0.0.0/24"}], 422, "civicloud.network.invalid_cidr"),
    ("no prefix", [{"cidr": "10.0.0.0"}], 422, "civicloud.network.invalid_cidr"),
    ("loopback", [{"cidr": "127.0.0.0/24"}], 422, "civicloud.network.reserved_cidr"),
    ("link-local", [{"cidr": "169.254.0.0/24"}], 422, "civicloud.network.reserved_cidr"),
    ("multicast", [{"cidr": "224.0.0.0/24"}], 422, "civicloud.network.reserved_cidr"),
    ("gateway outside", [{"cidr": "10.0.0.0/24", "gateway": "10.0.1.1"}], 422,
     "civicloud.network.gateway_outside"),
    ("gateway is the broadcast", [{"cidr": "10.0.0.0/24", "gateway": "10.0.0.255"}], 422,
     "civicloud.network.gateway_outside"),
    ("bad DNS", [{"cidr": "10.0.0.0/24", "dns": ["10.0.0.999"]}], 422, "civicloud.network.invalid_address"),
    ("DNS twice", [{"cidr": "10.0.0.0/24", "dns": ["1.1.1.1", "1.1.1.1"]}], 422, "civicloud.network.too_many_dns"),
    ("no subnet", [], 422, "civicloud.request.invalid"),
    ("IPv6", [{"cidr": "fd00::/64"}], 422, "civicloud.request.invalid"),
    ("nine subnets", [{"cidr": f"10.0.{i}.0/24"} for i in range(9)], 422, "civicloud.request.invalid"),
])
def test_invalid_networks_are_refused_and_nothing_is_made(client: TestClient, region: Region, case: str,
                                                          subnets: list[Any], status: int, code: str) -> None:
    r = client.post(f"{API}/networks", json={"member_id": "Bobigny", "name": "bad", "subnets": subnets})
    assert error_code(r, status) == code, case
    assert ok(client.get(f"{API}/networks"), 200) == []
    assert ok(client.get(f"{API}/security-groups"), 200) == []


def test_names_are_unique_within_a_member(client: TestClient, region: Region) -> None:
    network(client, "Bobigny")
    r = client.post(f"{API}/networks", json={"member_id": "Bobigny", "name": "office",
                                             "subnets": [{"cidr": "10.30.0.0/24"}]})
    assert error_code(r, 409) == "civicloud.network.name_taken"
    assert len(ok(client.get(f"{API}/networks"), 200)) == 1


def test_unknown_network(client: TestClient, region: Region) -> None:
    assert error_code(client.get(f"{API}/networks/nope"), 404) == "civicloud.network.not_found"
    assert error_code(client.delete(f"{API}/networks/nope"), 404) == "civicloud.network.not_found"


# -- ports: a workload's NICs -----------------------------------------------------------------------------------


def test_a_workload_naming_no_network_joins_the_members_default_one(client: TestClient, region: Region) -> None:
    first = workload(client, region, "compta")
    second = workload(client, region, "paie")
    nets = ok(client.get(f"{API}/networks?member_id=Bobigny"), 200)
    assert [(n["name"], n["subnets"][0]["cidr"], n["ports"]) for n in nets] == [("default", "10.64.0.0/22", 2)]
    assert [n["ip"] for n in first["nics"] + second["nics"]] == ["10.64.0.2", "10.64.0.3"]
    assert first["nics"][0]["network_id"] == nets[0]["id"]
    assert first["nics"][0]["mac"].startswith("02:") and first["nics"][0]["mac"] != second["nics"][0]["mac"]
    assert ok(client.get(f"{API}/workloads/{first['id']}"), 200)["nics"] == first["nics"]
    listed = {w["id"]: w["nics"] for w in ok(client.get(f"{API}/workloads"), 200)}
    assert listed == {first["id"]: first["nics"], second["id"]: second["nics"]}


def test_no_nic_when_asked_for_none(client: TestClient, region: Region) -> None:
    assert workload(client, region, "batch", networks=[])["nics"] == []
    assert ok(client.get(f"{API}/networks"), 200) == []


def test_nics_on_named_networks_with_a_fixed_address(client: TestClient, region: Region) -> None:
    office = network(client, "Bobigny")
    lab = network(client, "Bobigny", "lab", "192.168.7.0/29")
    w = workload(client, region, "gateway", networks=[{"network": "office", "fixed_ip": "10.20.0.50"},
                                                      {"network": lab["id"]}])
    assert [(n["network_id"], n["ip"]) for n in w["nics"]] == [(office["id"], "10.20.0.50"), (lab["id"], "192.168.7.2")]
    ports = ok(client.get(f"{API}/ports?member_id=Bobigny&network_id=office"), 200)  # a name, within its member
    assert [(p["ip"], p["workload_id"]) for p in ports] == [("10.20.0.50", w["id"])]
    port = ok(client.get(f"{API}/ports/{ports[0]['id']}"), 200)
    assert port == ports[0] and len(port["security_groups"]) == 1


@pytest.mark.parametrize(("case", "nic", "status", "code"), [
    ("outside the range", {"fixed_ip": "10.21.0.5"}, 422, "civicloud.port.ip_outside"),
    ("the gateway", {"fixed_ip": "10.20.0.1"}, 409, "civicloud.port.ip_reserved"),
    ("the network address", {"fixed_ip": "10.20.0.0"}, 409, "civicloud.port.ip_reserved"),
    ("the broadcast", {"fixed_ip": "10.20.0.255"}, 409, "civicloud.port.ip_reserved"),
    ("taken", {"fixed_ip": "10.20.0.9"}, 409, "civicloud.port.ip_taken"),
    ("not an address", {"fixed_ip": "10.20.0.300"}, 422, "civicloud.network.invalid_address"),
    ("unknown network", {"network": "nowhere"}, 404, "civicloud.network.not_found"),
    ("unknown group", {"security_groups": ["nope"]}, 404, "civicloud.security_group.not_found"),
])
def test_bad_nics_are_refused_and_nothing_is_half_made(client: TestClient, region: Region, case: str,
                                                       nic: dict[str, Any], status: int, code: str) -> None:
    network(client, "Bobigny")
    held = workload(client, region, "held", networks=[{"network": "office", "fixed_ip": "10.20.0.9"}])
    body = {"member_id": "Bobigny", "offering_id": "vm-small", "name": "web",
            "networks": [{"network": "office", **nic}]}
    assert error_code(client.post(f"{API}/workloads", json=body), status) == code, case
    assert [w["id"] for w in ok(client.get(f"{API}/workloads"), 200)] == [held["id"]]
    assert [p["workload_id"] for p in ok(client.get(f"{API}/ports"), 200)] == [held["id"]]


def test_another_members_network_and_group_cannot_be_used(client: TestClient, region: Region) -> None:
    theirs = network(client, "Drancy")
    sg = ok(client.post(f"{API}/security-groups", json={"member_id": "Drancy", "name": "web"}), 201)
    for nic, code in (({"network": theirs["id"]}, "civicloud.network.not_found"),
                      ({"network": "default", "security_groups": [sg["id"]]}, "civicloud.security_group.not_found")):
        body = {"member_id": "Bobigny", "offering_id": "vm-small", "name": "web", "networks": [nic]}
        assert error_code(client.post(f"{API}/workloads", json=body), 404) == code
    assert ok(client.get(f"{API}/workloads"), 200) == []


def test_addresses_are_held_until_the_workload_is_deleted(client: TestClient, region: Region) -> None:
    network(client, "Bobigny", cidr="10.20.0.0/29")  # 5 addresses: .2 to .6 (.1 is the gateway)
    made = [workload(client, region, f"w{i}", networks=[{"network": "office"}]) for i in range(5)]
    assert [w["nics"][0]["ip"] for w in made] == [f"10.20.0.{i}" for i in range(2, 7)]
    body = {"member_id": "Bobigny", "offering_id": "vm-small", "name": "w5", "networks": [{"network": "office"}]}
    assert error_code(client.post(f"{API}/workloads", json=body), 409) == "civicloud.network.full"
    ok(client.delete(f"{API}/workloads/{made[1]['id']}"), 202)  # unplaced: deleted at once, .3 let go
    assert workload(client, region, "w5", networks=[{"network": "office"}])["nics"][0]["ip"] == "10.20.0.3"


def test_a_network_in_use_is_not_deleted_and_its_ports_are_named(client: TestClient, region: Region) -> None:
    net = network(client, "Bobigny")
    w = workload(client, region, "compta", networks=[{"network": "office"}])
    r = client.delete(f"{API}/networks/{net['id']}")
    assert error_code(r, 409) == "civicloud.network.in_use"
    assert w["nics"][0]["port_id"] in r.json()["error"]["message"]
    assert "compta" in r.json()["error"]["message"]
    ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    assert client.delete(f"{API}/networks/{net['id']}").status_code == 204
    assert error_code(client.get(f"{API}/networks/{net['id']}"), 404) == "civicloud.network.not_found"


def test_a_placed_workloads_ports_go_when_its_agent_confirms_removal(app: FastAPI, client: TestClient,
                                                                    region: Region) -> None:
    w = workload(client, region, "compta")
    app.state.placer.run_once()
    agent = region.agents["drancy-mairie"]
    agent.report(client, w["id"], "running")
    ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    assert len(ok(client.get(f"{API}/ports"), 200)) == 1  # still on its host: it holds its address
    agent.report(client, w["id"], "absent")
    assert ok(client.get(f"{API}/workloads/{w['id']}"), 200)["state"] == "deleted"
    assert ok(client.get(f"{API}/ports"), 200) == []


# -- security groups --------------------------------------------------------------------------------------------


def test_security_group_rules(client: TestClient, region: Region) -> None:
    web = ok(client.post(f"{API}/security-groups", json={"member_id": "Bobigny", "name": "web", "rules": [
        {"direction": "ingress", "protocol": "tcp", "port_min": 8080, "remote_cidr": "192.168.1.0/24"},
        {"direction": "ingress", "protocol": "icmp"}]}), 201)
    assert [(r["protocol"], r["port_min"], r["port_max"], r["remote_cidr"]) for r in web["rules"]] == [
        ("tcp", 8080, 8080, "192.168.1.0/24"), ("icmp", None, None, None)]
    db = ok(client.post(f"{API}/security-groups", json={"member_id": "Bobigny", "name": "db", "rules": []}), 201)
    added = ok(client.post(f"{API}/security-groups/{db['id']}/rules", json={
        "direction": "ingress", "protocol": "tcp", "port_min": 5432, "remote_group": "web"}), 201)
    assert [(r["port_min"], r["remote_group_id"]) for r in added["rules"]] == [(5432, web["id"])]
    # web is the remote group of db's rule: not deleted until that rule is.
    r = client.delete(f"{API}/security-groups/{web['id']}")
    assert error_code(r, 409) == "civicloud.security_group.in_use" and "db" in r.json()["error"]["message"]
    assert client.delete(f"{API}/security-groups/{db['id']}/rules/{added['rules'][0]['id']}").status_code == 204
    assert ok(client.get(f"{API}/security-groups/{db['id']}"), 200)["rules"] == []
    assert client.delete(f"{API}/security-groups/{web['id']}").status_code == 204
    assert error_code(client.delete(f"{API}/security-groups/{db['id']}/rules/nope"), 404) == \
        "civicloud.security_group.rule_not_found"


def test_a_group_on_a_live_port_is_not_deleted(client: TestClient, region: Region) -> None:
    sg = ok(client.post(f"{API}/security-groups", json={"member_id": "Bobigny", "name": "web"}), 201)
    w = workload(client, region, "site", networks=[{"network": network(client, "Bobigny")["id"],
                                                    "security_groups": ["web"]}])
    assert ok(client.get(f"{API}/ports/{w['nics'][0]['port_id']}"), 200)["security_groups"] == [sg["id"]]
    assert error_code(client.delete(f"{API}/security-groups/{sg['id']}"), 409) == "civicloud.security_group.in_use"
    ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    assert client.delete(f"{API}/security-groups/{sg['id']}").status_code == 204


@pytest.mark.parametrize(("case", "rule", "code"), [
    ("port 70000", {"protocol": "tcp", "port_min": 70000}, "civicloud.request.invalid"),
    ("port 0", {"protocol": "tcp", "port_min": 0}, "civicloud.request.invalid"),
    ("reversed range", {"protocol": "udp", "port_min": 100, "port_max": 50}, "civicloud.security_group.invalid_ports"),
    ("ports on icmp", {"protocol": "icmp", "port_min": 22}, "civicloud.security_group.invalid_ports"),
    ("ports on any", {"protocol": "any", "port_max": 22}, "civicloud.security_group.invalid_ports"),
    ("max without min", {"protocol": "tcp", "port_max": 22}, "civicloud.security_group.invalid_ports"),
    ("two remotes", {"remote_cidr": "10.0.0.0/8", "remote_group": "default"}, "civicloud.security_group.two_remotes"),
    ("bad cidr", {"remote_cidr": "10.0.0.1/8"}, "civicloud.network.invalid_cidr"),
    ("unknown direction", {"direction": "sideways"}, "civicloud.request.invalid"),
    ("unknown protocol", {"protocol": "gre"}, "civicloud.request.invalid"),
])
def test_invalid_rules_are_refused(client: TestClient, region: Region, case: str, rule: dict[str, Any],
                                   code: str) -> None:
    full = {"direction": "ingress", **rule}
    r = client.post(f"{API}/security-groups", json={"member_id": "Bobigny", "name": "web", "rules": [full]})
    assert error_code(r, 422) == code, case
    assert ok(client.get(f"{API}/security-groups"), 200) == []


def test_group_names_are_unique_within_a_member(client: TestClient, region: Region) -> None:
    ok(client.post(f"{API}/security-groups", json={"member_id": "Bobigny", "name": "web"}), 201)
    r = client.post(f"{API}/security-groups", json={"member_id": "Bobigny", "name": "web"})
    assert error_code(r, 409) == "civicloud.security_group.name_taken"
    ok(client.post(f"{API}/security-groups", json={"member_id": "Drancy", "name": "web"}), 201)


def test_the_ports_addresses_are_distinct_under_many_workloads(client: TestClient, region: Region) -> None:
    made = [workload(client, region, f"w{i}") for i in range(20)]
    addresses = [IPv4Address(w["nics"][0]["ip"]) for w in made]
    assert len(set(addresses)) == 20 and addresses == sorted(addresses)


def test_the_hosts_agent_gets_the_nics_subnets_and_the_groups_rules(app: FastAPI, client: TestClient,
                                                                    region: Region) -> None:
    """What the agent needs to program the host and to tell the guest: each NIC's subnet (prefix, gateway, DNS:
    the guest's NoCloud seed), each port's groups, and the groups' rules (the host's nftables)."""
    ok(client.post(f"{API}/networks", json={"member_id": region.members["Bobigny"], "name": "office", "subnets": [
        {"cidr": "10.20.0.0/24", "dns": ["10.20.0.53"]}, {"cidr": "10.21.0.0/28"}]}), 201)
    web = ok(client.post(f"{API}/security-groups", json={
        "member_id": region.members["Bobigny"], "name": "web",
        "rules": [{"direction": "ingress", "protocol": "tcp", "port_min": 443, "remote_cidr": "192.168.1.0/24"}]}), 201)
    w = workload(client, region, "portail", networks=[{"network": "office", "fixed_ip": "10.21.0.5",
                                                       "security_groups": ["web", "default"]}])
    app.state.placer.run_once()
    agent = region.agents["drancy-mairie"]
    desired = ok(client.get(f"{API}/agent/desired", headers=agent.headers), 200)
    [nic] = desired["workloads"][0]["nics"]
    assert (nic["port_id"], nic["ip"], nic["cidr"], nic["gateway"], nic["dns"]) == (
        w["nics"][0]["port_id"], "10.21.0.5", "10.21.0.0/28", "10.21.0.1", [])
    [host] = desired["networks"]
    [port] = host["networks"][0]["ports"]
    default_id = next(g["id"] for g in ok(client.get(f"{API}/security-groups"), 200) if g["name"] == "default")
    assert port["security_groups"] == [web["id"], default_id]
    groups = {g["id"]: g["rules"] for g in host["security_groups"]}
    assert set(groups) == {web["id"], default_id}
    assert [(r["direction"], r["protocol"], r["port_min"], r["remote_cidr"]) for r in groups[web["id"]]] == [
        ("ingress", "tcp", 443, "192.168.1.0/24")]
    assert [(r["direction"], r["remote_group_id"]) for r in groups[default_id]] == [
        ("egress", None), ("ingress", default_id)]


def test_a_network_shows_the_hosts_holding_it_and_what_their_agents_applied(app: FastAPI, client: TestClient,
                                                                          region: Region, uow_factory: Any) -> None:
    """`network show`: where the network is and whether the hosts' agents applied it. The borrower sees the
    lending site and member and the state; the host, its tunnel address and the agent's errors are the lender's
    and the operator's business (as a workload's host is)."""
    from civicloud.services import identity

    w = workload(client, region, "compta")
    app.state.placer.run_once()
    agent = region.agents["drancy-mairie"]
    assert w["nics"]
    net_id = ok(client.get(f"{API}/networks"), 200)[0]["id"]  # Bobigny's default network, made for it
    [held] = ok(client.get(f"{API}/networks/{net_id}"), 200)["hosts"]
    assert (held["site_name"], held["lender_name"], held["ports"], held["data_plane"]) == (
        "drancy-mairie", "Drancy", 1, "unknown")  # its agent programs no tenant networks (no report)
    report = {**host_report("drancy-h1"), "tunnel_ip": "10.99.0.1", "data_plane": {
        "networks": 1, "ports": 1, "digest": "ab" * 32, "errors": ["add_bridge ccbr4096: Operation not permitted"]}}
    ok(client.post(f"{API}/agent/heartbeat", headers=agent.headers, json={"hosts": [report]}), 200)
    [held] = ok(client.get(f"{API}/networks/{net_id}"), 200)["hosts"]
    assert (held["host_name"], held["tunnel_ip"], held["data_plane"], held["errors"]) == (
        "drancy-h1", "10.99.0.1", "errors", ["add_bridge ccbr4096: Operation not permitted"])
    host = ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}"), 200)
    assert host["tunnel_ip"] == "10.99.0.1" and host["data_plane"]["errors"] == [
        "add_bridge ccbr4096: Operation not permitted"]
    # The borrower's own view: the site, the lender and the state; not the host.
    identity.bootstrap(uow_factory(), "admin", "correct horse battery staple")
    admin = {"Authorization": "Bearer " + ok(client.post(f"{API}/auth/tokens", json={
        "login": "admin", "password": "correct horse battery staple"}), 201)["token"]}
    ok(client.post(f"{API}/users", headers=admin, json={"login": "it@bobigny", "password": "correct horse battery "
                   "staple", "roles": ["member_user"], "member_id": region.members["Bobigny"]}), 201)
    borrower = {"Authorization": "Bearer " + ok(client.post(f"{API}/auth/tokens", json={
        "login": "it@bobigny", "password": "correct horse battery staple"}), 201)["token"]}
    [seen] = ok(client.get(f"{API}/networks/{net_id}", headers=borrower), 200)["hosts"]
    assert (seen["site_name"], seen["data_plane"], seen["host_id"], seen["host_name"], seen["tunnel_ip"],
            seen["errors"]) == ("drancy-mairie", "errors", None, None, None, None)
    # Applied: the next heartbeat without errors.
    report["data_plane"]["errors"] = []
    ok(client.post(f"{API}/agent/heartbeat", headers=agent.headers, json={"hosts": [report]}), 200)
    assert ok(client.get(f"{API}/networks/{net_id}", headers=borrower), 200)["hosts"][0]["data_plane"] == "applied"
    # An agent's report of errors is text like any other: control characters are refused, nothing recorded.
    bad = {**report, "data_plane": {**report["data_plane"], "errors": ["nft failed\x1b[31m"]}}
    assert error_code(client.post(f"{API}/agent/heartbeat", headers=agent.headers, json={"hosts": [bad]}), 422) == \
        "civicloud.request.invalid"
    assert ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}", headers=admin), 200)["data_plane"]["errors"] == []
