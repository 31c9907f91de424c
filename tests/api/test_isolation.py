"""The isolation matrix: every route × every member role × another member's object — no read, no write, no leak.

Generated from the OpenAPI document, so a new route is in the matrix the day it is added (and the app refuses
to start if it has no authorization rule). Bobigny's staff — one user per member role — are pointed at Drancy's
member, site, host, workload and placement group. For every route that names an object in its path, the answer
must be a refusal, and exactly the answer for an id that does not exist (so nobody learns what exists). Lists
must hold nothing of Drancy's, and creations naming Drancy are refused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from civicloud.api.app import unguarded_routes
from civicloud.services import identity

from civicloud_support import API, Region, ok

pytestmark = pytest.mark.isolation
PASSWORD = "correct horse battery staple"
MEMBER_ROLES = ("member_admin", "member_user", "site_operator")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, name: str) -> dict[str, str]:
    return bearer(ok(client.post(f"{API}/auth/tokens", json={"login": name, "password": PASSWORD}), 201)["token"])


@pytest.fixture
def world(client: TestClient, region: Region, uow_factory, app: FastAPI) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Drancy's objects, created by the federation admin; Bobigny's staff, one per member role."""
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    admin = login(client, "admin")
    drancy, bobigny = region.members["Drancy"], region.members["Bobigny"]
    workload = ok(client.post(f"{API}/workloads", headers=admin, json={
        "member_id": drancy, "offering_id": "vm-small", "name": "etat-civil"}), 202)
    app.state.placer.run_once()
    group = ok(client.post(f"{API}/placement-groups", headers=admin, json={
        "member_id": drancy, "name": "erp", "policy": "different_host"}), 201)
    network = ok(client.post(f"{API}/networks", headers=admin, json={
        "member_id": drancy, "name": "office", "subnets": [{"cidr": "10.20.0.0/24"}]}), 201)
    web = ok(client.post(f"{API}/security-groups", headers=admin, json={"member_id": drancy, "name": "web"}), 201)
    mine = ok(client.post(f"{API}/workloads", headers=admin, json={
        "member_id": bobigny, "offering_id": "vm-small", "name": "compta"}), 202)
    staff = {}
    for role in MEMBER_ROLES:
        ok(client.post(f"{API}/users", headers=admin, json={"login": f"bobigny-{role}", "password": PASSWORD,
                                                            "member_id": bobigny, "roles": [role]}), 201)
        staff[role] = login(client, f"bobigny-{role}")
    foreign = {"member_id": drancy, "site_id": region.sites["drancy-mairie"], "host_id": region.host("drancy-h1"),
               "workload_id": workload["id"], "group_id": group["id"], "offering_id": region.offerings["vm-small"],
               "invoice_id": "INV-2026-09-0001", "period": "2026-09", "token_id": "some-token", "kind": "hds",
               "network_id": network["id"], "port_id": workload["nics"][0]["port_id"], "security_group_id": web["id"],
               "rule_id": web["rules"][0]["id"]}
    return {"admin": admin, "staff": staff, "foreign": foreign, "drancy": drancy, "bobigny": bobigny,
            "mine": mine["id"]}


def operations(app: FastAPI) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
            if not path.startswith(f"{API}/agent/") and path != f"{API}/healthz"
            and (method, path) != ("post", f"{API}/auth/tokens")]


def test_every_route_has_an_authorization_rule(app: FastAPI) -> None:
    assert unguarded_routes(app) == []
    # And a new route without one is caught: the same walk names it.
    extra = APIRouter()
    extra.add_api_route("/brand-new", lambda: {}, methods=["GET"])
    app.include_router(extra, prefix=API)
    app.openapi_schema = None
    assert unguarded_routes(app) == [f"GET {API}/brand-new"]


def test_member_staff_never_reach_another_members_objects(client: TestClient, app: FastAPI,
                                                          world: dict[str, Any]) -> None:
    checked = 0
    for method, path in operations(app):
        names = re.findall(r"{(\w+)}", path)
        owned = [n for n in names if n in ("member_id", "site_id", "host_id", "workload_id", "group_id", "network_id",
                                           "port_id", "security_group_id")]
        if not owned:
            continue
        for role, headers in world["staff"].items():
            theirs = client.request(method, path.format(**world["foreign"]), headers=headers, json={})
            unknown = client.request(method, path.format(**{**world["foreign"],
                                                            **{n: "no-such-object" for n in owned}}),
                                     headers=headers, json={})
            assert theirs.status_code in (403, 404), (role, method, path, theirs.status_code, theirs.text)
            assert (theirs.status_code, theirs.json()["error"]["code"]) == \
                (unknown.status_code, unknown.json()["error"]["code"]), (role, method, path)  # no existence leak
            checked += 1
    assert checked >= 3 * 25  # the matrix is as large as the API


def test_lists_hold_only_their_own_member(client: TestClient, world: dict[str, Any], region: Region) -> None:
    drancy_ids = set(world["foreign"].values())
    for role, headers in world["staff"].items():
        for path in ("/members", "/sites", "/hosts", "/workloads", "/placement-groups", "/users", "/networks", "/ports",
                     "/security-groups"):
            r = client.get(f"{API}{path}", headers=headers)
            assert r.status_code in (200, 403), (role, path, r.text)
            if r.status_code == 200:
                assert not {item["id"] for item in r.json()} & drancy_ids, (role, path)
                assert all(item.get("member_id", world["bobigny"]) == world["bobigny"] for item in r.json()), \
                    (role, path)
        # Asking a list for Drancy's objects is answered as for a member that does not exist.
        r = client.get(f"{API}/workloads", headers=headers, params={"member_id": world["drancy"]})
        assert r.status_code in (403, 404), (role, r.text)
    member_user = world["staff"]["member_user"]
    assert [w["id"] for w in ok(client.get(f"{API}/workloads", headers=member_user), 200)] == [world["mine"]]


def test_creations_for_another_member_are_refused(client: TestClient, world: dict[str, Any]) -> None:
    drancy = world["drancy"]
    for role, headers in world["staff"].items():
        for path, body in (("/workloads", {"member_id": drancy, "offering_id": "vm-small", "name": "x"}),
                           ("/placement-groups", {"member_id": drancy, "name": "x", "policy": "same_host"}),
                           ("/networks", {"member_id": drancy, "name": "x", "subnets": [{"cidr": "10.9.0.0/24"}]}),
                           ("/security-groups", {"member_id": drancy, "name": "x"}),
                           ("/sites", {"member_id": drancy, "name": "x", "insee_code": "93029"}),
                           ("/users", {"login": f"x-{role}", "password": PASSWORD, "member_id": drancy,
                                       "roles": ["member_user"]})):
            r = client.post(f"{API}{path}", headers=headers, json=body)
            assert r.status_code in (403, 404), (role, path, r.text)
    # Operator-only actions stay the operator's.
    for role, headers in world["staff"].items():
        for path, body in (("/members", {"name": "X", "siren": "219300290", "category": "commune"}),
                           ("/offerings", {"name": "vm-x", "vcpus": 1, "memory_mib": 512}),
                           ("/billing/runs", {"period": "2026-09"})):
            assert client.post(f"{API}{path}", headers=headers, json=body).status_code == 403, (role, path)


def test_member_staff_work_on_their_own(client: TestClient, world: dict[str, Any], region: Region) -> None:
    user = world["staff"]["member_user"]
    created = ok(client.post(f"{API}/workloads", headers=user, json={
        "member_id": world["bobigny"], "offering_id": "vm-small", "name": "rh"}), 202)
    assert ok(client.get(f"{API}/workloads/{created['id']}", headers=user), 200)["name"] == "rh"
    ok(client.delete(f"{API}/workloads/{created['id']}", headers=user), 202)
    assert client.get(f"{API}/sites", headers=user).status_code == 403  # a member user does not manage sites
    admin = world["staff"]["member_admin"]
    assert ok(client.get(f"{API}/members/{world['bobigny']}/invoices", headers=admin), 200) == []
    assert ok(client.get(f"{API}/auth/whoami", headers=admin), 200)["member_id"] == world["bobigny"]


def test_member_staff_drive_their_own_networks_by_name(client: TestClient, world: dict[str, Any]) -> None:
    """Bobigny's user names its network and groups by name (resolved within Bobigny, though Drancy has an
    'office' network and a 'web' group too), and cannot put a NIC on Drancy's network by its id."""
    user = world["staff"]["member_user"]
    office = ok(client.post(f"{API}/networks", headers=user, json={
        "member_id": world["bobigny"], "name": "office", "subnets": [{"cidr": "10.20.0.0/24"}]}), 201)
    assert ok(client.get(f"{API}/networks/office", headers=user), 200)["id"] == office["id"]
    web = ok(client.post(f"{API}/security-groups", headers=user, json={"member_id": world["bobigny"], "name": "web"}),
             201)
    ok(client.post(f"{API}/security-groups/web/rules", headers=user, json={
        "direction": "ingress", "protocol": "tcp", "port_min": 443}), 201)
    w = ok(client.post(f"{API}/workloads", headers=user, json={
        "member_id": world["bobigny"], "offering_id": "vm-small", "name": "site-web",
        "networks": [{"network": "office", "security_groups": ["web"]}]}), 202)
    port = ok(client.get(f"{API}/ports/{w['nics'][0]['port_id']}", headers=user), 200)
    assert (port["network_id"], port["security_groups"]) == (office["id"], [web["id"]])
    theirs = client.post(f"{API}/workloads", headers=user, json={
        "member_id": world["bobigny"], "offering_id": "vm-small", "name": "sneaky",
        "networks": [{"network": world["foreign"]["network_id"]}]})
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "civicloud.network.not_found"
    assert client.delete(f"{API}/networks/office", headers=user).status_code == 409
