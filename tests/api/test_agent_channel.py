"""/api/v1/agent: join → heartbeat → desired → report, and every way a credential can be wrong."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud.clock import system_clock as utcnow
from civicloud.services.sites import hash_secret

from civicloud_support import (
    API,
    SIREN_DRANCY,
    Region,
    bearer,
    create_member,
    create_site,
    error_code,
    host_report,
    join_site,
    ok,
)

NOTHING = {"workloads": [], "networks": []}  # a desired state with nothing placed on the site


@pytest.fixture
def site_id(client: TestClient) -> str:
    member = create_member(client, "Drancy", SIREN_DRANCY, "commune")
    return create_site(client, member["id"], "drancy-mairie", "93029")["id"]


def issue(client: TestClient, site_id: str) -> str:
    return ok(client.post(f"{API}/sites/{site_id}/join-tokens"), 201)["token"]


def join(client: TestClient, token: str, agent_name: str = "drancy-agent") -> Any:
    return client.post(f"{API}/agent/join", json={"join_token": token, "agent_name": agent_name})


# -- create: join ------------------------------------------------------------------------


def test_join(client: TestClient, site_id: str) -> None:
    body = ok(join(client, issue(client, site_id)), 200)
    assert body["site_id"] == site_id
    assert body["credential"].startswith("cvs_") and len(body["credential"]) > 40
    # The credential works at once.
    assert ok(client.get(f"{API}/agent/desired", headers=bearer(body["credential"])), 200) == NOTHING


def test_two_agents_of_one_site_get_two_credentials(client: TestClient, site_id: str) -> None:
    first = ok(join(client, issue(client, site_id), "agent-a"), 200)["credential"]
    second = ok(join(client, issue(client, site_id), "agent-b"), 200)["credential"]
    assert first != second
    for credential in (first, second):
        ok(client.get(f"{API}/agent/desired", headers=bearer(credential)), 200)


# -- read: heartbeat and desired state --------------------------------------------------


def test_heartbeat_registers_hosts(client: TestClient, site_id: str) -> None:
    agent = join_site(client, site_id)
    r = client.post(f"{API}/agent/heartbeat", headers=agent.headers,
                    json={"hosts": [host_report("h1"), host_report("h2", 8, 16384, 200)]})
    body = ok(r, 200)
    assert body["site_id"] == site_id
    assert [h["name"] for h in body["hosts"]] == ["h1", "h2"]
    listed = ok(client.get(f"{API}/hosts", params={"site_id": site_id}), 200)
    assert {h["id"] for h in listed} == {h["id"] for h in body["hosts"]}
    # The same names again are the same hosts.
    again = ok(client.post(f"{API}/agent/heartbeat", headers=agent.headers, json={"hosts": [host_report("h2")]}),
               200)
    assert again["hosts"] == [body["hosts"][1]]


def test_empty_heartbeat_is_fine(client: TestClient, site_id: str) -> None:
    agent = join_site(client, site_id)
    assert ok(client.post(f"{API}/agent/heartbeat", headers=agent.headers, json={"hosts": []}), 200)["hosts"] == []


def test_desired_state_is_the_sites_own(app: FastAPI, client: TestClient, region: Region) -> None:
    w = ok(client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                                 "name": "compta"}), 202)
    drancy, avicenne = region.agents["drancy-mairie"], region.agents["avicenne-dc"]
    assert ok(client.get(f"{API}/agent/desired", headers=drancy.headers), 200) == NOTHING  # pending
    app.state.placer.run_once()
    [desired] = ok(client.get(f"{API}/agent/desired", headers=drancy.headers), 200)["workloads"]
    assert (desired["workload_id"], desired["host_name"], desired["desired"]) == (w["id"], "drancy-h1", "running")
    assert ok(client.get(f"{API}/agent/desired", headers=avicenne.headers), 200) == NOTHING


# -- report --------------------------------------------------------------------------------


@pytest.fixture
def placed(app: FastAPI, client: TestClient, region: Region) -> str:
    """Bobigny's workload 'compta', placed on drancy-h1 (scheduled)."""
    w = ok(client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                                 "name": "compta"}), 202)
    app.state.placer.run_once()
    return w["id"]


def state(client: TestClient, workload_id: str) -> str:
    return ok(client.get(f"{API}/workloads/{workload_id}"), 200)["state"]


def test_report_moves_the_workload(client: TestClient, region: Region, placed: str) -> None:
    drancy = region.agents["drancy-mairie"]
    body = {"workloads": [{"workload_id": placed, "observed": "running", "message": "booted in 4 s"}]}
    assert ok(client.post(f"{API}/agent/report", headers=drancy.headers, json=body), 200) == {
        "accepted": 1, "ignored": 0}
    got = ok(client.get(f"{API}/workloads/{placed}"), 200)
    assert (got["state"], got["message"]) == ("running", "booted in 4 s")


def test_report_that_changes_nothing_is_accepted(client: TestClient, region: Region, placed: str) -> None:
    drancy = region.agents["drancy-mairie"]
    assert drancy.report(client, placed, "absent") == {"accepted": 1, "ignored": 0}  # not created yet
    assert state(client, placed) == "scheduled"


def test_an_agent_cannot_report_on_another_sites_workload(client: TestClient, region: Region, placed: str) -> None:
    avicenne = region.agents["avicenne-dc"]
    for observed in ("running", "failed", "absent"):
        assert avicenne.report(client, placed, observed) == {"accepted": 0, "ignored": 1}
    assert state(client, placed) == "scheduled"


def test_an_agent_cannot_delete_another_sites_workload(client: TestClient, region: Region, placed: str) -> None:
    ok(client.delete(f"{API}/workloads/{placed}"), 202)
    assert region.agents["avicenne-dc"].report(client, placed, "absent") == {"accepted": 0, "ignored": 1}
    assert state(client, placed) != "deleted"
    assert ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}"), 200)["allocated"]["vcpus"] == 2


def test_report_on_unknown_or_pending_workloads_is_ignored(client: TestClient, region: Region) -> None:
    pending = ok(client.post(f"{API}/workloads", json={
        "member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "later"}), 202)
    drancy = region.agents["drancy-mairie"]
    body = {"workloads": [{"workload_id": "no-such-workload", "observed": "running"},
                          {"workload_id": pending["id"], "observed": "running"}]}
    assert ok(client.post(f"{API}/agent/report", headers=drancy.headers, json=body), 200) == {
        "accepted": 0, "ignored": 2}
    assert state(client, pending["id"]) == "pending"


def test_a_late_report_on_a_deleted_workload_changes_nothing(client: TestClient, region: Region,
                                                            placed: str) -> None:
    drancy = region.agents["drancy-mairie"]
    ok(client.delete(f"{API}/workloads/{placed}"), 202)
    drancy.report(client, placed, "absent")
    assert state(client, placed) == "deleted"
    assert drancy.report(client, placed, "running") == {"accepted": 1, "ignored": 0}
    assert state(client, placed) == "deleted"
    allocated = ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}"), 200)["allocated"]
    assert allocated == {"vcpus": 0, "memory_mib": 0, "disk_gib": 0, "gpus": 0}  # released once, not twice


# -- conflict: tokens and credentials that do not work ---------------------------------------


def test_a_join_token_works_once(client: TestClient, site_id: str) -> None:
    token = issue(client, site_id)
    ok(join(client, token), 200)
    assert error_code(join(client, token), 401) == "civicloud.agent.invalid_join_token"


@pytest.mark.parametrize(("case", "token"), [
    ("unknown", "cvj_" + "A" * 43),
    ("credential used as a join token", None),
])
def test_unknown_join_token(client: TestClient, site_id: str, case: str, token: str | None) -> None:
    if token is None:
        token = join_site(client, site_id).credential
    r = join(client, token)
    assert error_code(r, 401) == "civicloud.agent.invalid_join_token"
    assert r.headers["www-authenticate"] == "Bearer"


def test_an_expired_join_token_is_refused(client: TestClient, site_id: str, uow_factory: Any) -> None:
    # Written straight to the store: the API's shortest TTL is a second, and tests do not sleep.
    token = "cvj_expired_" + "a" * 32
    with uow_factory() as uow:
        uow.credentials.add_join_token("expired-token", site_id, hash_secret(token), utcnow() - timedelta(hours=2),
                                       utcnow() - timedelta(seconds=1))
        uow.commit()
    assert error_code(join(client, token), 401) == "civicloud.agent.invalid_join_token"


@pytest.mark.parametrize(("case", "token"), [
    ("too short", "cvj_short"),
    ("forbidden characters", "cvj_" + "/" * 20),
    ("far too long", "cvj_" + "a" * 500),
])
def test_malformed_join_token(client: TestClient, site_id: str, case: str, token: str) -> None:
    r = join(client, token)
    assert error_code(r, 422) == "civicloud.request.invalid"
    assert r.json()["error"]["field"] == "join_token"


@pytest.mark.parametrize(("case", "header"), [
    ("no credential", None),
    ("unknown credential", "Bearer cvs_" + "B" * 43),
    ("a join token is not a credential", "join-token"),
    ("not a bearer", "Basic ZHJhbmN5OnNlY3JldA=="),
])
@pytest.mark.parametrize(("method", "route", "body"), [
    ("POST", "heartbeat", {"hosts": []}),
    ("GET", "desired", None),
    ("POST", "report", {"workloads": []}),
])
def test_agent_routes_need_the_site_credential(client: TestClient, site_id: str, case: str, header: str | None,
                                               method: str, route: str, body: Any) -> None:
    if header == "join-token":
        header = f"Bearer {issue(client, site_id)}"
    headers = {"Authorization": header} if header else {}
    r = client.request(method, f"{API}/agent/{route}", headers=headers, json=body)
    assert error_code(r, 401) == "civicloud.agent.invalid_credential"
    assert r.headers["www-authenticate"] == "Bearer"
    assert ok(client.get(f"{API}/hosts"), 200) == []


def test_report_body_is_checked(client: TestClient, region: Region, placed: str) -> None:
    drancy = region.agents["drancy-mairie"]
    r = client.post(f"{API}/agent/report", headers=drancy.headers,
                    json={"workloads": [{"workload_id": placed, "observed": "exploded"}]})
    assert error_code(r, 422) == "civicloud.request.invalid"
    assert r.json()["error"]["field"] == "workloads.0.observed"
    assert state(client, placed) == "scheduled"


@pytest.mark.parametrize(("case", "change", "field"), [
    ("no vCPU", {"vcpus": 0}, "hosts.0.vcpus"),
    ("no memory", {"memory_mib": 0}, "hosts.0.memory_mib"),
    ("memory beyond what the store holds", {"memory_mib": 2**31}, "hosts.0.memory_mib"),
    ("blank name", {"name": ""}, "hosts.0.name"),
    ("URI with a space", {"libvirt_uri": "qemu:///sys tem"}, "hosts.0.libvirt_uri"),
])
def test_heartbeat_body_is_checked(client: TestClient, site_id: str, case: str, change: dict[str, Any],
                                   field: str) -> None:
    agent = join_site(client, site_id)
    r = client.post(f"{API}/agent/heartbeat", headers=agent.headers, json={"hosts": [{**host_report("h1"), **change}]})
    assert error_code(r, 422) == "civicloud.request.invalid"
    assert r.json()["error"]["field"] == field
    assert ok(client.get(f"{API}/hosts"), 200) == []


def test_revoked_agents_must_join_again(client, region) -> None:  # type: ignore[no-untyped-def]
    site = region.sites["drancy-mairie"]
    agent = region.agents["drancy-mairie"]
    assert client.get(f"{API}/agent/desired", headers=agent.headers).status_code == 200
    revoked = client.delete(f"{API}/sites/{site}/credentials")
    assert revoked.status_code == 200 and revoked.json()["revoked"] >= 1
    refused = client.get(f"{API}/agent/desired", headers=agent.headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "civicloud.agent.invalid_credential"
    assert client.delete(f"{API}/sites/{site}/credentials").json() == {"revoked": 0}
    assert client.delete(f"{API}/sites/nope/credentials").json()["error"]["code"] == "civicloud.site.not_found"
