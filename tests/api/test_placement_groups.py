"""/api/v1/placement-groups: create → read → conflict → delete.

A placement group is a member's set of workloads that must share a host, or
must not share a host or a site.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud_support import API, Region, error_code, ok


def create_group(client: TestClient, member: str, name: str = "erp", policy: str = "different_host") -> Any:
    return ok(client.post(f"{API}/placement-groups", json={"member_id": member, "name": name, "policy": policy}),
              201)


def create_workload(client: TestClient, region: Region, name: str, group: str | None,
                    member: str = "Bobigny") -> Any:
    body = {"member_id": region.members[member], "offering_id": "vm-small", "name": name, "group": group}
    return ok(client.post(f"{API}/workloads", json=body), 202)


# -- create ------------------------------------------------------------------------------------------


def test_create(client: TestClient, region: Region) -> None:
    group = create_group(client, region.members["Bobigny"])
    assert (group["member_id"], group["name"], group["policy"]) == (region.members["Bobigny"], "erp", "different_host")
    assert group["id"] and group["created_at"].endswith("Z")
    by_name = create_group(client, "Bobigny", "web", "same_host")  # the member by its name
    assert by_name["member_id"] == region.members["Bobigny"]


@pytest.mark.parametrize(("case", "body", "status", "code"), [
    ("unknown policy", {"policy": "anywhere"}, 422, "civicloud.request.invalid"),
    ("blank name", {"name": " "}, 422, "civicloud.request.invalid"),
    ("unknown field", {"hosts": 2}, 422, "civicloud.request.invalid"),
    ("unknown member", {"member_id": "nobody"}, 404, "civicloud.member.not_found"),
])
def test_invalid_group(client: TestClient, region: Region, case: str, body: dict[str, Any], status: int,
                       code: str) -> None:
    full = {"member_id": region.members["Bobigny"], "name": "erp", "policy": "different_site", **body}
    assert error_code(client.post(f"{API}/placement-groups", json=full), status) == code
    assert ok(client.get(f"{API}/placement-groups"), 200) == []


def test_workloads_join_a_group_by_id_or_name(client: TestClient, region: Region) -> None:
    group = create_group(client, "Bobigny")
    assert create_workload(client, region, "erp-db", group["id"])["group_id"] == group["id"]
    assert create_workload(client, region, "erp-app", "erp")["group_id"] == group["id"]
    assert create_workload(client, region, "compta", None)["group_id"] is None


def test_another_members_group_cannot_be_joined(client: TestClient, region: Region) -> None:
    theirs = create_group(client, "Drancy")
    r = client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                              "name": "erp-db", "group": theirs["id"]})
    assert error_code(r, 404) == "civicloud.placement_group.not_found"
    assert ok(client.get(f"{API}/workloads"), 200) == []


@pytest.mark.parametrize(("policy", "same_host"), [("different_host", False), ("same_host", True)])
def test_the_policy_steers_placement(app: FastAPI, client: TestClient, region: Region, policy: str,
                                     same_host: bool) -> None:
    """Without a group, packing would put both on drancy-h1; different_host sends the second to drancy-h2."""
    create_group(client, "Bobigny", policy=policy)
    first = create_workload(client, region, "erp-db", "erp")
    second = create_workload(client, region, "erp-app", "erp")
    assert all(o.placed for o in app.state.placer.run_once())
    hosts = [ok(client.get(f"{API}/workloads/{w['id']}"), 200)["host_id"] for w in (first, second)]
    assert hosts[0] == region.host("drancy-h1")
    assert (hosts[1] == hosts[0]) is same_host


def test_different_site_with_one_lending_site_leaves_the_second_pending(app: FastAPI, client: TestClient,
                                                                        region: Region) -> None:
    create_group(client, "Bobigny", policy="different_site")
    create_workload(client, region, "erp-db", "erp")
    second = create_workload(client, region, "erp-app", "erp")
    app.state.placer.run_once()
    body = ok(client.get(f"{API}/workloads/{second['id']}"), 200)
    assert body["state"] == "pending"
    reasons = {(r["filter"], r["code"]): r["hosts"] for r in body["placement"]["reasons"]}
    assert reasons == {("affinity", "group_site_taken"): 2, ("offer_open", "offer_closed_now"): 1}


# -- read --------------------------------------------------------------------------------------------


def test_read(client: TestClient, region: Region) -> None:
    web = create_group(client, "Bobigny", "web", "same_host")
    erp = create_group(client, "Bobigny", "erp")
    theirs = create_group(client, "Drancy", "erp", "different_site")  # names are per member
    assert ok(client.get(f"{API}/placement-groups/{erp['id']}"), 200) == erp
    listed = ok(client.get(f"{API}/placement-groups"), 200)
    assert [g["name"] for g in listed] == ["erp", "erp", "web"]  # by name
    assert sorted(g["id"] for g in listed) == sorted([erp["id"], theirs["id"], web["id"]])
    assert ok(client.get(f"{API}/placement-groups", params={"member_id": region.members["Bobigny"]}), 200) == [
        erp, web]
    assert ok(client.get(f"{API}/placement-groups", params={"member_id": "Drancy"}), 200) == [theirs]
    assert error_code(client.get(f"{API}/placement-groups/no-such-group"), 404) == \
        "civicloud.placement_group.not_found"
    assert error_code(client.get(f"{API}/placement-groups", params={"member_id": "nobody"}), 404) == \
        "civicloud.member.not_found"


# -- conflict ----------------------------------------------------------------------------------------


def test_conflict_on_name(client: TestClient, region: Region) -> None:
    create_group(client, "Bobigny")
    r = client.post(f"{API}/placement-groups", json={"member_id": "Bobigny", "name": "erp", "policy": "same_host"})
    assert error_code(r, 409) == "civicloud.placement_group.name_taken"
    create_group(client, "Drancy")  # another member may use the name
    groups = ok(client.get(f"{API}/placement-groups", params={"member_id": "Bobigny"}), 200)
    assert [g["policy"] for g in groups] == ["different_host"]


def test_a_group_in_use_is_not_deleted(client: TestClient, region: Region) -> None:
    group = create_group(client, "Bobigny")
    create_workload(client, region, "erp-db", "erp")
    assert error_code(client.delete(f"{API}/placement-groups/{group['id']}"), 409) == \
        "civicloud.placement_group.in_use"
    assert ok(client.get(f"{API}/placement-groups/{group['id']}"), 200) == group


# -- delete ------------------------------------------------------------------------------------------


def test_delete(client: TestClient, region: Region) -> None:
    group = create_group(client, "Bobigny")
    r = client.delete(f"{API}/placement-groups/{group['id']}")
    assert r.status_code == 204 and r.content == b""
    assert error_code(client.get(f"{API}/placement-groups/{group['id']}"), 404) == \
        "civicloud.placement_group.not_found"
    assert error_code(client.delete(f"{API}/placement-groups/{group['id']}"), 404) == \
        "civicloud.placement_group.not_found"
    create_group(client, "Bobigny")  # the name is free again


def test_delete_once_its_workloads_are_deleted(client: TestClient, region: Region) -> None:
    """Deleted workloads keep their history but no longer hold their group."""
    group = create_group(client, "Bobigny")
    w = create_workload(client, region, "erp-db", "erp")
    ok(client.delete(f"{API}/workloads/{w['id']}"), 202)  # pending: deleted at once
    assert client.delete(f"{API}/placement-groups/{group['id']}").status_code == 204
    gone = ok(client.get(f"{API}/workloads/{w['id']}"), 200)
    assert (gone["state"], gone["group_id"]) == ("deleted", None)
