"""/api/v1/workloads: create → placement → read → conflict → delete, with the agent closing each loop.

Placement runs when the test says so (``app.state.placer.run_once()``), so
every step is deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicloud.clock import FrozenClock, system_clock
from civicloud.domain import WorkloadState, can_transition
from civicloud.services.loops import PlacementLoop
from civicloud.services.placement import PlacementSettings
from civicloud.store import SqlUnitOfWork

from civicloud_support import API, Region, error_code, host_report, join_site, ok

ZERO = {"vcpus": 0, "memory_mib": 0, "disk_gib": 0, "gpus": 0}
SMALL = {"vcpus": 2, "memory_mib": 4096, "disk_gib": 20, "gpus": 0}


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
        return all(can_transition(WorkloadState(a), WorkloadState(b)) for a, b in pairwise(self.states))


def test_life_of_a_workload(app: FastAPI, client: TestClient, region: Region) -> None:
    drancy = region.agents["drancy-mairie"]
    h1 = region.host("drancy-h1")

    created = create(client, region)
    w = Recorder(client, created["id"])
    w.see(created)
    assert (created["state"], created["desired"], created["host_id"]) == ("pending", "running", None)
    assert created["offering_id"] == region.offerings["vm-small"]  # given by name, stored by id

    # Placement: drancy-h1, first of the two equal Drancy hosts (the hospital has made no offer: it lends nothing).
    [outcome] = app.state.placer.run_once()
    assert outcome.placed and outcome.host_id == h1
    body = w.see()
    assert (body["state"], body["host_id"]) == ("scheduled", h1)
    assert body["message"] == "placed at drancy-mairie (3 hosts: 2 fit, 1 offer closed now)"
    assert allocated(client, h1) == SMALL
    assert ok(client.get(f"{API}/hosts/{h1}"), 200)["free"] == {"vcpus": 30, "memory_mib": 28672, "disk_gib": 480,
                                                                "gpus": 0}
    assert app.state.placer.run_once() == []  # nothing pending any more

    # The site's agent sees it in its desired state, then reports it running.
    state = ok(client.get(f"{API}/agent/desired", headers=drancy.headers), 200)
    desired = state["workloads"]
    vni = ok(client.get(f"{API}/networks"), 200)[0]["vni"]  # its member's default network, made for it
    # Each NIC with its subnet (the default network's /22: the guest's seed tells it so).
    nics = [{"port_id": n["port_id"], "mac": n["mac"], "ip": n["ip"], "vni": vni, "cidr": "10.64.0.0/22",
             "gateway": "10.64.0.1", "dns": []} for n in w.see()["nics"]]
    assert [n["ip"] for n in nics] == ["10.64.0.2"]
    assert desired == [{"workload_id": w.id, "name": "compta", "offering": "vm-small", "host_name": "drancy-h1",
                        "desired": "running",
                        "vcpus": 2, "memory_mib": 4096, "disk_gib": 20, "stop_at": None,
                        "reboot_after": None, "nics": nics}]
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
    assert ok(client.get(f"{API}/hosts/{h1}"), 200)["free"] == {"vcpus": 32, "memory_mib": 32768, "disk_gib": 500,
                                                                "gpus": 0}
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
    assert body["message"] == ("no host can take vm-huge now (3 hosts: 3 insufficient vCPU); "
                               "retrying as capacity frees up")
    assert all(h["allocated"] == ZERO for h in ok(client.get(f"{API}/hosts"), 200))


def test_pending_until_the_lender_offers_more(app: FastAPI, client: TestClient, region: Region) -> None:
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"default_percent": 0}), 200)
    w = create(client, region)
    app.state.placer.run_once()
    assert "(3 hosts: 3 offer closed now)" in get(client, w["id"])["message"]
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"default_percent": 10}), 200)
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
    assert allocated(client, region.host("drancy-h1")) == {"vcpus": 16, "memory_mib": 32768, "disk_gib": 160,
                                                           "gpus": 0}
    assert ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}"), 200)["free"]["memory_mib"] == 0


def test_a_silent_host_takes_no_workload(client: TestClient, region: Region, engine: Engine) -> None:
    # Two minutes later, the agents have said nothing (silence is counted after a minute by default).
    later = FrozenClock(system_clock() + timedelta(minutes=2))
    strict = PlacementLoop(lambda: SqlUnitOfWork(engine, later), PlacementSettings(retries=1), interval_s=1)
    w = create(client, region)
    [outcome] = strict.run_once()
    assert not outcome.placed
    assert "(3 hosts: 3 agent not reporting)" in get(client, w["id"])["message"]
    assert get(client, w["id"])["placement"]["reasons"] == [
        {"filter": "host_reporting", "code": "host_not_reporting", "text": "agent not reporting", "hosts": 3}]


# -- why a workload stays pending ------------------------------------------------------------------


def reasons(body: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(r["filter"], r["code"]): r["hosts"] for r in body["placement"]["reasons"]}


def test_a_pending_workload_explains_why_host_by_host(app: FastAPI, client: TestClient, region: Region) -> None:
    """E-health data needs an HDS-certified site: Drancy's hosts are not, and the hospital lends nothing yet."""
    ok(client.post(f"{API}/offerings", json={"name": "vm-sante", "vcpus": 2, "memory_mib": 4096, "disk_gib": 20,
                                             "hds_activities": [1, 2]}), 201)
    w = create(client, region, "dossier-patient", offering="vm-sante")
    assert w["placement"] is None  # no decision yet
    [outcome] = app.state.placer.run_once()
    assert not outcome.placed
    body = get(client, w["id"])
    assert (body["state"], body["host_id"]) == ("pending", None)
    placement = body["placement"]
    assert placement["summary"] == \
        "3 hosts: 2 not HDS-certified (valid) for the activities asked, 1 offer closed now"
    assert placement["reasons"] == [
        {"filter": "certification", "code": "not_hds_certified",
         "text": "not HDS-certified (valid) for the activities asked", "hosts": 2},
        {"filter": "offer_open", "code": "offer_closed_now", "text": "offer closed now", "hosts": 1},
    ]
    assert placement["summary"] in body["message"]
    assert datetime.fromisoformat(placement["decided_at"]) <= datetime.now(UTC)

    # The hospital opens its offer: the workload goes to the one certified site.
    ok(client.put(f"{API}/sites/avicenne-dc/offer", json={"default_percent": 50}), 200)
    [outcome] = app.state.placer.run_once()
    assert outcome.placed and outcome.host_id == region.host("avicenne-h1")
    assert get(client, w["id"])["state"] == "scheduled"


def test_an_expired_certification_does_not_count(app: FastAPI, client: TestClient, region: Region) -> None:
    avicenne = region.members["Hôpital Avicenne"]
    site = ok(client.post(f"{API}/sites", json={
        "member_id": avicenne, "name": "avicenne-old", "insee_code": "93008",
        "certifications": [{"kind": "hds", "expires_on": "2020-12-31", "activities": [1, 2, 3, 4, 5, 6]}]}), 201)
    old = join_site(client, site["id"], host_report("old-h1"), agent_name="old-agent")
    ok(client.put(f"{API}/sites/avicenne-old/offer", json={"default_percent": 100}), 200)
    ok(client.post(f"{API}/offerings", json={"name": "vm-sante", "vcpus": 2, "memory_mib": 4096,
                                             "hds_activities": [1]}), 201)
    w = create(client, region, "dossier-patient", offering="vm-sante")
    app.state.placer.run_once()
    assert reasons(get(client, w["id"])) == {("certification", "not_hds_certified"): 3,
                                             ("offer_open", "offer_closed_now"): 1}
    assert old.hosts["old-h1"]


def test_a_request_beyond_the_quota_is_refused_and_names_it(app: FastAPI, client: TestClient, region: Region) -> None:
    """3 harvest vCPUs: a first 2-vCPU workload is accepted, a second (4 in all) refused at once, naming the quota,
    its limit and what is used; pending requests count, so a burst cannot slip past."""
    ok(client.post(f"{API}/members/Bobigny/agreements", json={
        "kind": "ppp", "valid_from": "2020-01-01", "quotas": {"harvest": {"vcpus": 3}, "guaranteed": {"vcpus": 0}}}),
       201)
    first = create(client, region, "compta")  # still pending: it counts all the same
    refused = client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"],
                                                    "offering_id": "vm-small", "name": "rh"})
    assert error_code(refused, 409) == "civicloud.quota.exceeded"
    error = refused.json()["error"]
    assert error["field"] == "quota.harvest.vcpus"
    assert "harvest quota vcpus is 3 vCPU; its live workloads use 2 and vm-small needs 2" in error["message"]
    # Deleting the first frees the quota.
    ok(client.delete(f"{API}/workloads/{first['id']}"), 202)
    create(client, region, "rh")


def test_a_quota_on_the_number_of_workloads(app: FastAPI, client: TestClient, region: Region) -> None:
    ok(client.post(f"{API}/members/Bobigny/agreements", json={
        "kind": "ppp", "valid_from": "2020-01-01", "quotas": {"harvest": {"workloads": 1}}}), 201)
    create(client, region, "compta")
    refused = client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"],
                                                    "offering_id": "vm-small", "name": "rh"})
    assert error_code(refused, 409) == "civicloud.quota.exceeded"
    assert refused.json()["error"]["field"] == "quota.harvest.workloads"
    assert "quota workloads is 1; it has 1 live" in refused.json()["error"]["message"]


def test_a_quota_set_after_the_request_keeps_it_pending(app: FastAPI, client: TestClient, region: Region) -> None:
    """The agreement changes after requests were queued: placement applies it too, and says so."""
    w = create(client, region)
    agreement = ok(client.post(f"{API}/members/Bobigny/agreements", json={
        "kind": "mutualisation_convention", "valid_from": "2020-01-01", "quotas": {"harvest": {"vcpus": 1}}}), 201)
    assert agreement["quotas"] == {"harvest": {"vcpus": 1, "memory_mib": None, "disk_gib": None, "workloads": None}}
    [outcome] = app.state.placer.run_once()
    assert not outcome.placed
    body = get(client, w["id"])
    assert body["state"] == "pending"
    assert body["placement"]["summary"] == "3 hosts: 3 borrower's quota reached"
    assert body["placement"]["reasons"] == [
        {"filter": "quota", "code": "quota_exceeded", "text": "borrower's quota reached", "hosts": 3}]
    # Another member, without a quota, is placed on the same hosts.
    other = create(client, region, "site-web", member="Drancy")
    assert [o.workload_id for o in app.state.placer.run_once() if o.placed] == [other["id"]]
    assert get(client, w["id"])["state"] == "pending"


def test_placement_counts_what_the_member_already_holds(app: FastAPI, client: TestClient, region: Region) -> None:
    """Two 2-vCPU requests queued, then a 3-vCPU quota: the first is placed, the second waits, even in one pass."""
    first, second = create(client, region, "compta"), create(client, region, "rh")
    ok(client.post(f"{API}/members/Bobigny/agreements", json={
        "kind": "ppp", "valid_from": "2020-01-01", "quotas": {"harvest": {"vcpus": 3}, "guaranteed": {"vcpus": 0}}}),
       201)
    outcomes = {o.workload_id: o.placed for o in app.state.placer.run_once()}
    assert outcomes == {first["id"]: True, second["id"]: False}
    assert reasons(get(client, second["id"])) == {("quota", "quota_exceeded"): 3}
    ok(client.delete(f"{API}/workloads/{first['id']}"), 202)
    region.agents["drancy-mairie"].report(client, first["id"], "absent")
    assert [(o.workload_id, o.placed) for o in app.state.placer.run_once()] == [(second["id"], True)]


def test_an_agreement_not_in_force_sets_no_quota(app: FastAPI, client: TestClient, region: Region) -> None:
    ok(client.post(f"{API}/members/Bobigny/agreements", json={
        "kind": "ppp", "valid_from": "2020-01-01", "valid_to": "2020-12-31", "quotas": {"harvest": {"vcpus": 1}}}),
       201)
    create(client, region)
    assert [o.placed for o in app.state.placer.run_once()] == [True]


def test_residency_keeps_data_where_it_may_live(app: FastAPI, client: TestClient, region: Region) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "etat-civil",
            "residency": {"departments": ["92"]}}
    w = ok(client.post(f"{API}/workloads", json=body), 202)
    assert w["residency"] == {"countries": [], "regions": [], "departments": ["92"]}
    app.state.placer.run_once()
    assert reasons(get(client, w["id"])) == {("residency", "outside_residency"): 2,
                                             ("offer_open", "offer_closed_now"): 1}
    inside = ok(client.post(f"{API}/workloads", json={**body, "name": "etat-civil-93",
                                                       "residency": {"regions": ["11"], "countries": ["FR"]}}), 202)
    [placed] = [o for o in app.state.placer.run_once() if o.placed]
    assert placed.workload_id == inside["id"]


def test_a_workload_carries_its_service_class(app: FastAPI, client: TestClient, region: Region) -> None:
    harvest = create(client, region)
    assert (harvest["service_class"], harvest["group_id"]) == ("harvest", None)
    assert harvest["residency"] == {"countries": [], "regions": [], "departments": []}
    ok(client.post(f"{API}/offerings", json={"name": "vm-guaranteed", "vcpus": 2, "memory_mib": 4096,
                                             "disk_gib": 20, "service_class": "guaranteed"}), 201)
    guaranteed = create(client, region, "erp", offering="vm-guaranteed")
    assert guaranteed["service_class"] == "guaranteed"
    # Drancy commits nothing (its 50 % is all harvest): guaranteed work has no room there.
    outcomes = {o.workload_id: o.placed for o in app.state.placer.run_once()}
    assert outcomes == {harvest["id"]: True, guaranteed["id"]: False}
    assert reasons(get(client, guaranteed["id"])) == {("offer_open", "offer_closed_now"): 3}
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"committed_percent": 10, "default_percent": 50}), 200)
    assert [o.placed for o in app.state.placer.run_once()] == [True]
    host = ok(client.get(f"{API}/hosts/{get(client, guaranteed['id'])['host_id']}"), 200)
    assert host["allocated_guaranteed"] == SMALL


def test_workloads_list_in_pages(client, region) -> None:  # type: ignore[no-untyped-def]
    """Oldest first, ``limit`` at a time from ``offset``: nothing missed, nothing twice."""
    member = region.members["Bobigny"]
    ids = [client.post(f"{API}/workloads", json={"member_id": member, "offering_id": "vm-small",
                                                 "name": f"p{i}"}).json()["id"] for i in range(5)]
    pages = [client.get(f"{API}/workloads", params={"limit": 2, "offset": o}).json() for o in (0, 2, 4)]
    assert [w["id"] for page in pages for w in page] == ids
    assert [len(p) for p in pages] == [2, 2, 1]
    bad = client.get(f"{API}/workloads", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "query.limit"


def test_a_request_wakes_the_control_loop_once_committed_and_a_refusal_does_not(
        client: TestClient, region: Region, app: FastAPI) -> None:
    """The services signal what may let a workload fit (``domain.events.ROOM_CHANGED``); the app wakes the
    control loop on it once the request is committed — the same for any front calling the same services."""
    wake = app.state.placer._wake
    wake.clear()
    refused = client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                                    "name": "x" * 121})
    assert refused.status_code == 422 and not wake.is_set()
    ok(client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                             "name": "compta"}), 202)
    assert wake.is_set()
    wake.clear()
    ok(client.put(f"{API}/sites/{region.sites['drancy-mairie']}/offer", json={"default_percent": 60}), 200)
    assert wake.is_set()
