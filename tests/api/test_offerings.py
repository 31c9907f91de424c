"""/api/v1/offerings: create → read → conflict (the catalogue has no delete yet)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from civicloud_support import API, error_code, ok

DESKTOP = {"name": "desktop", "description": "a virtual desktop for remote work", "vcpus": 2, "memory_mib": 8192,
           "disk_gib": 50, "service_class": "guaranteed"}


def test_create(client: TestClient) -> None:
    body = ok(client.post(f"{API}/offerings", json=DESKTOP), 201)
    assert body["id"] and {k: body[k] for k in DESKTOP} == DESKTOP


def test_create_with_defaults(client: TestClient) -> None:
    body = ok(client.post(f"{API}/offerings", json={"name": "batch", "vcpus": 1, "memory_mib": 512}), 201)
    assert (body["description"], body["disk_gib"], body["service_class"]) == ("", 0, "harvest")
    assert (body["gpus"], body["hds_activities"], body["traits"]) == (0, [], [])


def test_create_with_gpus_and_certifications(client: TestClient) -> None:
    body = ok(client.post(f"{API}/offerings", json={
        "name": "vm-sante-gpu", "vcpus": 4, "memory_mib": 16384, "gpus": 1, "hds_activities": [5, 1],
        "traits": ["secnumcloud", "iso27001"]}), 201)
    assert (body["gpus"], body["hds_activities"], body["traits"]) == (1, [1, 5], ["iso27001", "secnumcloud"])
    assert ok(client.get(f"{API}/offerings/vm-sante-gpu"), 200) == body


def test_read(client: TestClient) -> None:
    desktop = ok(client.post(f"{API}/offerings", json=DESKTOP), 201)
    batch = ok(client.post(f"{API}/offerings", json={"name": "batch", "vcpus": 1, "memory_mib": 512}), 201)
    assert ok(client.get(f"{API}/offerings/{desktop['id']}"), 200) == desktop
    assert ok(client.get(f"{API}/offerings/desktop"), 200) == desktop
    assert ok(client.get(f"{API}/offerings"), 200) == [batch, desktop]
    assert error_code(client.get(f"{API}/offerings/nothing"), 404) == "civicloud.offering.not_found"


def test_conflict_on_name(client: TestClient) -> None:
    ok(client.post(f"{API}/offerings", json=DESKTOP), 201)
    assert error_code(client.post(f"{API}/offerings", json={**DESKTOP, "vcpus": 4}), 409) == \
        "civicloud.offering.name_taken"
    assert [o["vcpus"] for o in ok(client.get(f"{API}/offerings"), 200)] == [2]


@pytest.mark.parametrize(("case", "change"), [
    ("no vCPU", {"vcpus": 0}),
    ("too many vCPUs", {"vcpus": 513}),
    ("too little memory", {"memory_mib": 8}),
    ("negative disk", {"disk_gib": -1}),
    ("upper-case name", {"name": "Desktop"}),
    ("name with a space", {"name": "my desktop"}),
    ("unknown service class", {"service_class": "best_effort"}),
    ("fractional vCPUs", {"vcpus": 1.5}),
    ("description too long", {"description": "x" * 2001}),
])
def test_invalid_offering(client: TestClient, case: str, change: dict[str, Any]) -> None:
    r = client.post(f"{API}/offerings", json={**DESKTOP, **change})
    assert error_code(r, 422) == "civicloud.request.invalid"
    assert r.json()["error"]["field"] == next(iter(change))
    assert ok(client.get(f"{API}/offerings"), 200) == []


@pytest.mark.parametrize(("case", "change", "code", "field"), [
    ("HDS activity 7", {"hds_activities": [7]}, "civicloud.request.invalid", "hds_activities.0"),
    ("negative GPUs", {"gpus": -1}, "civicloud.request.invalid", "gpus"),
    ("unknown trait", {"traits": ["iso9001"]}, "civicloud.offering.invalid_trait", "traits"),
])
def test_invalid_placement_needs(client: TestClient, case: str, change: dict[str, Any], code: str,
                                 field: str) -> None:
    r = client.post(f"{API}/offerings", json={**DESKTOP, **change})
    assert error_code(r, 422) == code
    assert r.json()["error"]["field"] == field
    assert ok(client.get(f"{API}/offerings"), 200) == []
