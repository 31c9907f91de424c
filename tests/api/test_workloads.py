"""/api/v1/workloads: create → placement → read → conflict → delete, with the agent closing each loop.

Placement runs when the test says so (``app.state.placer.run_once()``), so
every step is deterministic.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicloud.domain import WorkloadState, can_transition
from civicloud.services.loops import PlacementLoop
from civicloud.store import SqlUnitOfWork
from civicloud_support import API, Region, error_code, ok

ZERO = {"vcpus": 0, "memory_mib": 0, "disk_gib": 0}
SMALL = {"vcpus": 2, "memory_mib": 4096, "disk_gib": 20}


def create(client: TestClient, region: Region, name: str = "compta", offering: str = "vm-small",
           member: str = "Bobigny") -> dict[str, Any]:
    body = {"member_id": region.members[member], "offering_id": offering, "name": name}
    return ok(client.post(f"{API}/workloads", json=body), 202)


def get(client: TestClient, workload_id: str) -> dict[str, Any]:
    return ok(client.get(f"{API}/workloads/{workload_id}"), 200)


def allocated(client: TestClient, host_id: str) -> dict[str, int]:
    return ok(client.get(f"{API}/hosts/{host_id}"), 200)["allocated"]


class Recorder:
    """Remembers every state a workload shows, to check each move against the state machine."""

    def __init__(self, client: TestClient, workload_id: str) -> None:
        self.client, self.id = client, workload_id
        self.states: list[str] = []

    def see(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body if body is not None else get(self.client, self.id)
        self.states.append(body["state"])
        return body

    def moves_follow_the_state_machine(self) -> bool:
        return all(can_transition(WorkloadState(a), WorkloadState(b)) for a, b in zip(self.states, self.states[1:]))


def test_life_of_a_workload(app: FastAPI, client: TestClient, region: Region) -> None:
    drancy = region.agents["drancy-mairie"]
    h1 = region.host("drancy-h1")

    created = create(client, region)
    w = Recorder(client, created["id"])
    w.see(created)
    assert (created["state"], created["desired"], created["host_id"]) == ("pending", "running", None)
    assert created["offering_id"] == region.offerings["vm-small"]  # given by name, stored by id

    # Placement: first fit is drancy-h1 (the hospital lends nothing).
    [outcome] = app.state.placer.run_once()
    assert outcome.placed and outcome.host_id == h1
    body = w.see()
    assert (body["state"], body["host_id"]) == ("scheduled", h1)
    assert body["message"].startswith("placed on drancy-h1 (3 hosts: 2 fit, 1 insufficient_vcpus)")
    assert allocated(client, h1) == SMALL
    assert ok(client.get(f"{API}/hosts/{h1}"), 200)["free"] == {"vcpus": 30, "memory_mib": 28672, "disk_gib": 480}
    assert app.state.placer.run_once() == []  # nothing pending any more

    # The site's agent sees it in its desired state, then reports it running.
    desired = ok(client.get(f"{API}/agent/desired", headers=drancy.headers), 200)["workloads"]
    assert desired == [{"workload_id": w.id, "name": "compta", "host_name": "drancy-h1", "desired": "running",
                        **SMALL}]
    assert drancy.report(client, w.id, "running") == {"accepted": 1, "ignored": 0}
    assert w.see()["state"] == "running"

    # Stop: stopping until the agent confirms.
    body = w.see(ok(client.post(f"{API}/workloads/{w.id}/stop"), 202))
    assert (body["state"], body["desired"]) == ("stopping", "stopped")
    assert ok(client.get(f"{API}/agent/desired", headers=drancy.headers), 200)["workloads"][0]["desired"] == "stopped"
    drancy.report(client, w.id, "stopped")
    assert w.see()["state"] == "stopped"
    assert allocated(client, h1) == SMALL  # a stopped workload keeps its place

    # Start again.
    body = w.see(ok(client.post(f"{API}/workloads/{w.id}/start"), 202))
    assert (body["state"], body["desired"]) == ("provisioning", "running")
    drancy.report(client, w.id, "running")
    assert w.see()["state"] == "running"

    # Delete: the agent removes the domain, then the allocation is released.
    body = w.see(ok(client.delete(f"{API}/workloads/{w.id}"), 202))
    assert (body["state"], body["desired"]) == ("stopping", "absent")
    assert allocated(client, h1) == SMALL  # still held until the agent confirms
    drancy.report(client, w.id, "running")  # not gone yet: nothing changes
    assert w.see()["state"] == "stopping"
    drancy.report(client, w.id, "absent")
    body = w.see()
    assert (body["state"], body["desired"]) == ("deleted", "absent")
    assert allocated(client, h1) == ZERO
    assert ok(client.get(f"{API}/hosts/{h1}"), 200)["free"] == {"vcpus": 32, "memory_mib": 32768, "disk_gib": 500}
    assert ok(client.get(f"{API}/agent/desired", headers=drancy.headers), 200)["workloads"] == []

    assert w.moves_follow_the_state_machine(), w.states


def test_read(app: FastAPI, client: TestClient, region: Region) -> None:
    compta = create(client, region, "compta")
    rh = create(client, region, "rh")
    site = create(client, region, "site-web", member="Drancy")
    assert get(client, compta["id"]) == compta
    assert [w["name"] for w in ok(client.get(f"{API}/workloads"), 200)] == ["compta", "rh", "site-web"]
    by_member = ok(client.get(f"{API}/workloads", params={"member_id": region.members["Drancy"]}), 200)
    assert by_member == [site]
    assert [w["name"] for w in ok(client.get(f"{API}/workloads", params={"state": "pending"}), 200)] == [
        "compta", "rh", "site-web"]
    ok(client.delete(f"{API}/workloads/{rh['id']}"), 202)
    assert [w["name"] for w in ok(client.get(f"{API}/workloads"), 200)] == ["compta", "site-web"]
    listed = ok(client.get(f"{API}/workloads", params={"include_deleted": "true"}), 200)
    assert [w["name"] for w in listed] == ["compta", "rh", "site-web"]
    assert [w["name"] for w in ok(client.get(f"{API}/workloads", params={"state": "deleted"}), 200)] == ["rh"]


@pytest.mark.parametrize(("case", "params", "status", "code"), [
    ("unknown workload", None, 404, "civicloud.workload.not_found"),
    ("unknown member filter", {"member_id": "nobody"}, 404, "civicloud.member.not_found"),
    ("unknown state filter", {"state": "sleeping"}, 422, "civicloud.request.invalid"),
])
def test_read_errors(client: TestClient, region: Region, case: str, params: dict[str, str] | None, status: int,
                     code: str) -> None:
    url = f"{API}/workloads" if params else f"{API}/workloads/no-such-workload"
    assert error_code(client.get(url, params=params), status) == code


@pytest.mark.parametrize(("case", "body", "status", "code"), [
    ("unknown member", {"member_id": "nobody"}, 404, "civicloud.member.not_found"),
    ("unknown offering", {"offering_id": "vm-giant"}, 404, "civicloud.offering.not_found"),
    ("blank name", {"name": ""}, 422, "civicloud.request.invalid"),
    ("missing offering", {"offering_id": None}, 422, "civicloud.request.invalid"),
])
def test_create_errors(client: TestClient, region: Region, case: str, body: dict[str, Any], status: int,
                       code: str) -> None:
    full = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta", **body}
    full = {k: v for k, v in full.items() if v is not None}
    assert error_code(client.post(f"{API}/workloads", json=full), status) == code
    assert ok(client.get(f"{API}/workloads"), 200) == []


def test_conflict_on_name(app: FastAPI, client: TestClient, region: Region) -> None:
    first = create(client, region, "compta")
    r = client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                              "name": "compta"})
    assert error_code(r, 409) == "civicloud.workload.name_taken"
    create(client, region, "compta", member="Drancy")  # another member may use the name
    ok(client.delete(f"{API}/workloads/{first['id']}"), 202)
    again = create(client, region, "compta")  # a deleted workload frees its name
    assert again["id"] != first["id"]


def test_stop_before_placement_is_a_conflict(client: TestClient, region: Region) -> None:
    w = create(client, region)
    assert error_code(client.post(f"{API}/workloads/{w['id']}/stop"), 409) == "civicloud.workload.not_placed"
    assert get(client, w["id"])["state"] == "pending"


def test_start_and_stop_a_deleted_workload_are_conflicts(app: FastAPI, client: TestClient, region: Region) -> None:
    w = create(client, region)
    app.state.placer.run_once()
    ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    for verb in ("start", "stop"):
        assert error_code(client.post(f"{API}/workloads/{w['id']}/{verb}"), 409) == "civicloud.workload.deleted"
    assert get(client, w["id"])["desired"] == "absent"


@pytest.mark.parametrize("verb", ["start", "stop"])
def test_start_and_stop_unknown(client: TestClient, region: Region, verb: str) -> None:
    assert error_code(client.post(f"{API}/workloads/nothing/{verb}"), 404) == "civicloud.workload.not_found"


def test_repeated_requests_change_nothing(app: FastAPI, client: TestClient, region: Region) -> None:
    w = create(client, region)
    app.state.placer.run_once()
    region.agents["drancy-mairie"].report(client, w["id"], "running")
    running = ok(client.post(f"{API}/workloads/{w['id']}/start"), 202)
    assert running["state"] == "running" and running == get(client, w["id"])
    stopping = ok(client.post(f"{API}/workloads/{w['id']}/stop"), 202)
    assert ok(client.post(f"{API}/workloads/{w['id']}/stop"), 202) == stopping
    deleting = ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    assert ok(client.delete(f"{API}/workloads/{w['id']}"), 202) == deleting


def test_start_before_the_stop_is_confirmed(app: FastAPI, client: TestClient, region: Region) -> None:
    created = create(client, region)
    w = Recorder(client, created["id"])
    drancy = region.agents["drancy-mairie"]
    app.state.placer.run_once()
    drancy.report(client, w.id, "running")
    w.see()
    w.see(ok(client.post(f"{API}/workloads/{w.id}/stop"), 202))
    w.see(ok(client.post(f"{API}/workloads/{w.id}/start"), 202))
    drancy.report(client, w.id, "running")
    assert w.see()["state"] == "running"
    assert w.states == ["running", "stopping", "provisioning", "running"]
    assert w.moves_follow_the_state_machine()


def test_delete_before_placement_is_immediate(app: FastAPI, client: TestClient, region: Region) -> None:
    w = create(client, region)
    body = ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    assert (body["state"], body["desired"], body["host_id"]) == ("deleted", "absent", None)
    assert app.state.placer.run_once() == []  # never placed afterwards
    assert all(h["allocated"] == ZERO for h in ok(client.get(f"{API}/hosts"), 200))


def test_delete_unknown(client: TestClient, region: Region) -> None:
    assert error_code(client.delete(f"{API}/workloads/nothing"), 404) == "civicloud.workload.not_found"


def test_delete_a_stopped_workload(app: FastAPI, client: TestClient, region: Region) -> None:
    w = create(client, region)
    app.state.placer.run_once()
    drancy = region.agents["drancy-mairie"]
    drancy.report(client, w["id"], "stopped")  # defined, not started yet
    assert get(client, w["id"])["state"] == "provisioning"
    ok(client.post(f"{API}/workloads/{w['id']}/stop"), 202)
    drancy.report(client, w["id"], "stopped")
    assert get(client, w["id"])["state"] == "stopped"
    body = ok(client.delete(f"{API}/workloads/{w['id']}"), 202)
    assert (body["state"], body["desired"]) == ("stopped", "absent")
    drancy.report(client, w["id"], "absent")
    assert get(client, w["id"])["state"] == "deleted"
    assert allocated(client, region.host("drancy-h1")) == ZERO


def test_a_failed_workload_can_be_restarted(app: FastAPI, client: TestClient, region: Region) -> None:
    w = create(client, region)
    app.state.placer.run_once()
    drancy = region.agents["drancy-mairie"]
    drancy.report(client, w["id"], "failed")
    assert get(client, w["id"])["state"] == "failed"
    body = ok(client.post(f"{API}/workloads/{w['id']}/start"), 202)
    assert (body["state"], body["desired"]) == ("provisioning", "running")
    drancy.report(client, w["id"], "running")
    assert get(client, w["id"])["state"] == "running"


def test_unplaceable_workload_stays_pending_and_says_why(app: FastAPI, client: TestClient, region: Region) -> None:
    w = create(client, region, "calcul", offering="vm-huge")
    [outcome] = app.state.placer.run_once()
    assert not outcome.placed
    body = get(client, w["id"])
    assert (body["state"], body["host_id"]) == ("pending", None)
    assert body["message"] == ("no host fits vm-huge now (3 hosts: 3 insufficient_vcpus); "
                               "retrying as capacity frees up")
    assert all(h["allocated"] == ZERO for h in ok(client.get(f"{API}/hosts"), 200))


def test_pending_until_the_lender_offers_more(app: FastAPI, client: TestClient, region: Region) -> None:
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"share_percent": 0}), 200)
    w = create(client, region)
    app.state.placer.run_once()
    assert "3 insufficient_vcpus" in get(client, w["id"])["message"]
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"share_percent": 10}), 200)
    [outcome] = app.state.placer.run_once()
    assert outcome.placed
    assert get(client, w["id"])["host_id"] == region.host("drancy-h1")


def test_placement_fills_a_host_then_the_next(app: FastAPI, client: TestClient, region: Region) -> None:
    """drancy-h1 lends 32768 MiB: eight 4096 MiB workloads fill it, the ninth goes to drancy-h2."""
    ids = [create(client, region, f"vm-{i}")["id"] for i in range(9)]
    outcomes = app.state.placer.run_once()
    assert [o.workload_id for o in outcomes] == ids  # arrival order
    hosts = [get(client, i)["host_id"] for i in ids]
    assert hosts == [region.host("drancy-h1")] * 8 + [region.host("drancy-h2")]
    assert allocated(client, region.host("drancy-h1")) == {"vcpus": 16, "memory_mib": 32768, "disk_gib": 160}
    assert ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}"), 200)["free"]["memory_mib"] == 0


def test_a_silent_host_takes_no_workload(client: TestClient, region: Region, engine: Engine) -> None:
    # A placer that counts any report older than a microsecond as silence: every host is then stale.
    strict = PlacementLoop(lambda: SqlUnitOfWork(engine), interval_s=1, stale_after_s=1e-6, retries=1)
    w = create(client, region)
    [outcome] = strict.run_once()
    assert not outcome.placed
    assert "3 host_not_reporting" in get(client, w["id"])["message"]
