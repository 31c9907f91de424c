"""The audit trail (hash-chained), Idempotency-Key on creates, the body size limit and security headers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from civicloud_support import API, Region, error_code, ok


def audit(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}/audit", params=params), 200)


def test_every_change_is_chained_and_readable(client: TestClient, region: Region) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta"}
    created = ok(client.post(f"{API}/workloads", json=body), 202)
    client.post(f"{API}/workloads/{created['id']}/stop")  # a 409 (not placed): refusals are recorded too
    entries = audit(client, action="/workloads")
    assert [(e["action"], e["outcome"]) for e in entries[:2]] == [
        ("POST /api/v1/workloads/{workload_id}/stop", 409), ("POST /api/v1/workloads", 202)]
    assert entries[1]["target"] == f"id={created['id']}" and entries[0]["target"] == f"workload_id={created['id']}"
    assert entries[0]["actor"] == "open-api" and entries[0]["source"] == "testclient"
    assert entries[0]["prev_hash"] == entries[1]["hash"]  # newest first: each names the one before
    everything = audit(client, limit=1000)
    assert [e["seq"] for e in everything] == list(range(len(everything), 0, -1))
    # The region's agents joined and sent heartbeats: the join is recorded, the telemetry is not.
    actions = {e["action"] for e in everything}
    assert "POST /api/v1/agent/join" in actions and "POST /api/v1/agent/heartbeat" not in actions
    assert ok(client.get(f"{API}/audit/verify"), 200) == {"entries": len(everything), "intact": True,
                                                          "first_break": None, "reason": None}


def test_tampering_with_one_entry_is_detected(client: TestClient, region: Region, engine: Engine) -> None:
    for name in ("a", "b", "c"):
        ok(client.post(f"{API}/offerings", json={"name": f"vm-{name}", "vcpus": 1, "memory_mib": 512}), 201)
    count = ok(client.get(f"{API}/audit/verify"), 200)["entries"]
    with engine.begin() as conn:  # someone with database access rewrites who did it
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = :seq"), {"seq": count - 1})
    report = ok(client.get(f"{API}/audit/verify"), 200)
    assert (report["intact"], report["first_break"]) == (False, count - 1)
    assert "changed after it was written" in report["reason"]
    with engine.begin() as conn:  # put it back…
        conn.execute(text("UPDATE audit_log SET actor = 'open-api' WHERE seq = :seq"), {"seq": count - 1})
    assert ok(client.get(f"{API}/audit/verify"), 200)["intact"]
    with engine.begin() as conn:  # …then remove an entry instead
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    report = ok(client.get(f"{API}/audit/verify"), 200)
    assert (report["intact"], report["first_break"]) == (False, 2) and "missing" in report["reason"]


def test_a_retry_with_the_same_key_creates_one_workload(client: TestClient, region: Region) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta"}
    key = {"Idempotency-Key": "0f8c2a5e-retry"}
    first = client.post(f"{API}/workloads", json=body, headers=key)
    again = client.post(f"{API}/workloads", json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert [w["id"] for w in ok(client.get(f"{API}/workloads"), 200)] == [first.json()["id"]]
    other = client.post(f"{API}/workloads", json={**body, "name": "paie"}, headers=key)
    assert error_code(other, 422) == "civicloud.idempotency.key_reused"
    elsewhere = client.post(f"{API}/offerings", json={"name": "vm-x", "vcpus": 1, "memory_mib": 512}, headers=key)
    assert error_code(elsewhere, 422) == "civicloud.idempotency.key_reused"
    # Without the header, a second identical request is a new request (here: the name is taken).
    assert error_code(client.post(f"{API}/workloads", json=body), 409) == "civicloud.workload.name_taken"


def test_a_retry_while_the_first_is_handled_waits(client: TestClient, region: Region, engine: Engine) -> None:
    raw = b'{"name": "vm-x", "vcpus": 1, "memory_mib": 512}'
    with engine.begin() as conn:  # as if the first request with this key were still running
        conn.execute(text("INSERT INTO idempotency_keys (principal, key, request, body_sha256, created_at) "
                          "VALUES (:p, 'k-busy', 'POST /api/v1/offerings', :sha, :now)"),
                     {"p": "open-api", "sha": hashlib.sha256(raw).hexdigest(),
                      "now": datetime.now(UTC).replace(tzinfo=None)})
    response = client.post(f"{API}/offerings", content=raw,
                           headers={"Idempotency-Key": "k-busy", "content-type": "application/json"})
    assert error_code(response, 409) == "civicloud.idempotency.in_progress"
    bad = client.post(f"{API}/offerings", json={}, headers={"Idempotency-Key": "x" * 201})
    assert error_code(bad, 422) == "civicloud.idempotency.invalid_key"


def test_bodies_are_bounded_and_answers_carry_security_headers(client: TestClient) -> None:
    big = client.post(f"{API}/members", content=b"{" + b" " * (1 << 20) + b"}",
                      headers={"content-type": "application/json"})
    assert error_code(big, 413) == "civicloud.request.too_large"
    response = client.get(f"{API}/members")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
