"""POST /api/v1/workloads/{id}/resize: another offering for a stopped workload, on its own host."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud_support import API, Region, error_code, ok

SMALL = {"vcpus": 2, "memory_mib": 4096, "disk_gib": 20, "gpus": 0}
LARGE = {"vcpus": 8, "memory_mib": 16384, "disk_gib": 40, "gpus": 0}


def offering(client: TestClient, name: str, vcpus: int, memory_mib: int, disk_gib: int,
             service_class: str = "harvest") -> None:
    ok(client.post(f"{API}/offerings", json={"name": name, "vcpus": vcpus, "memory_mib": memory_mib,
                                              "disk_gib": disk_gib, "service_class": service_class}), 201)


def stopped_workload(app: FastAPI, client: TestClient, region: Region) -> dict[str, Any]:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta"}
    w = ok(client.post(f"{API}/workloads", json=body), 202)
    app.state.placer.run_once()
    drancy = region.agents["drancy-mairie"]
    drancy.report(client, w["id"], "running")
    ok(client.post(f"{API}/workloads/{w['id']}/stop"), 202)
    drancy.report(client, w["id"], "stopped")
    w = ok(client.get(f"{API}/workloads/{w['id']}"), 200)
    assert w["state"] == "stopped"
    return w


def resize(client: TestClient, workload_id: str, offering_ref: str) -> Any:
    return client.post(f"{API}/workloads/{workload_id}/resize", json={"offering_id": offering_ref})


def host(client: TestClient, host_id: str) -> dict[str, Any]:
    return ok(client.get(f"{API}/hosts/{host_id}"), 200)


def test_a_stopped_workload_takes_a_larger_offering_on_its_host(app: FastAPI, client: TestClient,
                                                                 region: Region) -> None:
    offering(client, "vm-large", 8, 16384, 40)
    w = stopped_workload(app, client, region)
    assert host(client, w["host_id"])["allocated"] == SMALL

    body = ok(resize(client, w["id"], "vm-large"), 202)
    assert body["offering_id"] != w["offering_id"] and body["state"] == "stopped"
    assert body["message"] == "resized from vm-small to vm-large; it starts with the new size"
    assert host(client, w["host_id"])["allocated"] == LARGE  # the allocation swapped, not added
    desired = ok(client.get(f"{API}/agent/desired", headers=region.agents["drancy-mairie"].headers), 200)
    assert [(d["vcpus"], d["memory_mib"], d["disk_gib"]) for d in desired["workloads"]] == [(8, 16384, 40)]
    # Again with the same offering: nothing changes.
    assert ok(resize(client, w["id"], "vm-large"), 202)["updated_at"] == body["updated_at"]


@pytest.mark.parametrize(("case", "make", "target", "status", "code"), [
    ("no room on its host", ("vm-giant", 64, 65536, 40, "harvest"), "vm-giant", 409,
     "civicloud.workload.resize_no_room"),
    ("another class", ("vm-safe", 2, 4096, 20, "guaranteed"), "vm-safe", 409, "civicloud.workload.class_change"),
    ("a smaller disk", ("vm-thin", 2, 4096, 10, "harvest"), "vm-thin", 409, "civicloud.workload.disk_shrink"),
    ("unknown offering", None, "vm-nope", 404, "civicloud.offering.not_found"),
])
def test_resize_refusals_change_nothing(app: FastAPI, client: TestClient, region: Region, case: str,
                                        make: tuple[str, int, int, int, str] | None, target: str, status: int,
                                        code: str) -> None:
    if make:
        offering(client, *make)
    w = stopped_workload(app, client, region)
    response = resize(client, w["id"], target)
    assert error_code(response, status) == code
    assert ok(client.get(f"{API}/workloads/{w['id']}"), 200)["offering_id"] == w["offering_id"]
    assert host(client, w["host_id"])["allocated"] == SMALL


def test_no_room_names_the_reason(app: FastAPI, client: TestClient, region: Region) -> None:
    offering(client, "vm-giant", 8, 65536, 40)
    w = stopped_workload(app, client, region)
    message = resize(client, w["id"], "vm-giant").json()["error"]["message"]
    assert message.startswith("its host at drancy-mairie cannot take vm-giant: lent share used up")


def test_a_running_workload_is_not_resized(app: FastAPI, client: TestClient, region: Region) -> None:
    offering(client, "vm-large", 8, 16384, 40)
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "web"}
    w = ok(client.post(f"{API}/workloads", json=body), 202)
    app.state.placer.run_once()
    region.agents["drancy-mairie"].report(client, w["id"], "running")
    response = resize(client, w["id"], "vm-large")
    assert error_code(response, 409) == "civicloud.workload.not_stopped"
    assert "stop it" in response.json()["error"]["message"]
