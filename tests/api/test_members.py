"""/api/v1/members: create → read → conflict (members are not deleted; they leave by agreement)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from civicloud_support import API, SIREN_BOBIGNY, SIREN_DRANCY, create_member, error_code, ok


def test_create(client: TestClient) -> None:
    body = ok(client.post(f"{API}/members", json={
        "name": "Drancy", "siren": "219 300 290", "siret": "21930029000018", "category": "commune"}), 201)
    assert body["name"] == "Drancy"
    assert body["siren"] == SIREN_DRANCY  # compacted
    assert body["siret"] == "21930029000018"
    assert body["category"] == "commune"
    assert body["id"] and body["created_at"].endswith("Z")


def test_read(client: TestClient) -> None:
    drancy = create_member(client, "Drancy", SIREN_DRANCY, "commune")
    create_member(client, "Bobigny", SIREN_BOBIGNY, "commune")
    assert ok(client.get(f"{API}/members/{drancy['id']}"), 200) == drancy
    assert ok(client.get(f"{API}/members/Drancy"), 200) == drancy  # by its exact name, as people type it
    assert [m["name"] for m in ok(client.get(f"{API}/members"), 200)] == ["Bobigny", "Drancy"]


def test_read_unknown(client: TestClient) -> None:
    assert error_code(client.get(f"{API}/members/no-such-member"), 404) == "civicloud.member.not_found"


def test_conflict_on_name(client: TestClient) -> None:
    create_member(client, "Drancy", SIREN_DRANCY, "commune")
    r = client.post(f"{API}/members", json={"name": "Drancy", "siren": SIREN_BOBIGNY, "category": "commune"})
    assert error_code(r, 409) == "civicloud.member.name_taken"
    assert len(ok(client.get(f"{API}/members"), 200)) == 1


@pytest.mark.parametrize(("case", "body", "code", "field"), [
    ("Luhn checksum wrong", {"siren": "219300291"}, "civicloud.member.invalid_siren", "siren"),
    ("SIRET checksum wrong", {"siret": "21930029000019"}, "civicloud.member.invalid_siret", "siret"),
    ("SIRET of another SIREN", {"siret": "21930029000018", "siren": SIREN_BOBIGNY},
     "civicloud.member.invalid_siret", "siret"),
    ("letters in the SIREN", {"siren": "21930029A"}, "civicloud.request.invalid", "siren"),
    ("unknown category", {"category": "kingdom"}, "civicloud.request.invalid", "category"),
    ("blank name", {"name": "   "}, "civicloud.request.invalid", "name"),
    ("control character in the name", {"name": "Dran\ncy"}, "civicloud.request.invalid", "name"),
    ("unknown field", {"mayor": "someone"}, "civicloud.request.invalid", "mayor"),
])
def test_invalid_member(client: TestClient, case: str, body: dict[str, Any], code: str, field: str) -> None:
    r = client.post(f"{API}/members", json={"name": "Drancy", "siren": SIREN_DRANCY, "category": "commune", **body})
    assert error_code(r, 422) == code
    assert r.json()["error"]["field"] == field
    assert ok(client.get(f"{API}/members"), 200) == []


def test_agreements_create_read(client: TestClient) -> None:
    drancy = create_member(client, "Drancy", SIREN_DRANCY, "commune")
    later = ok(client.post(f"{API}/members/{drancy['id']}/agreements", json={
        "kind": "sem_shareholder", "valid_from": "2027-01-01"}), 201)
    first = ok(client.post(f"{API}/members/Drancy/agreements", json={
        "kind": "mutualisation_convention", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}), 201)
    assert first["member_id"] == drancy["id"] and first["valid_to"] == "2026-12-31"
    assert later["valid_to"] is None
    assert ok(client.get(f"{API}/members/{drancy['id']}/agreements"), 200) == [first, later]


def test_agreement_quotas(client: TestClient) -> None:
    create_member(client, "Bobigny", SIREN_BOBIGNY, "commune")
    agreement = ok(client.post(f"{API}/members/Bobigny/agreements", json={
        "kind": "mutualisation_convention", "valid_from": "2026-01-01",
        "quotas": {"harvest": {"vcpus": 16, "workloads": 4}, "guaranteed": {"memory_mib": 0}}}), 201)
    assert agreement["quotas"] == {
        "harvest": {"vcpus": 16, "memory_mib": None, "disk_gib": None, "workloads": 4},
        "guaranteed": {"vcpus": None, "memory_mib": 0, "disk_gib": None, "workloads": None}}
    assert ok(client.get(f"{API}/members/Bobigny/agreements"), 200) == [agreement]
    plain = ok(client.post(f"{API}/members/Bobigny/agreements", json={"kind": "ppp", "valid_from": "2027-01-01"}),
               201)
    assert plain["quotas"] == {}  # no limit


@pytest.mark.parametrize(("case", "member", "body", "status", "code"), [
    ("unknown service class in the quotas", "Drancy",
     {"kind": "ppp", "valid_from": "2026-01-01", "quotas": {"best_effort": {"vcpus": 1}}}, 422,
     "civicloud.request.invalid"),
    ("negative quota", "Drancy", {"kind": "ppp", "valid_from": "2026-01-01", "quotas": {"harvest": {"vcpus": -1}}},
     422, "civicloud.request.invalid"),
    ("ends before it starts", "Drancy", {"kind": "ppp", "valid_from": "2026-02-01", "valid_to": "2026-01-31"},
     422, "civicloud.agreement.invalid_period"),
    ("unknown kind", "Drancy", {"kind": "handshake", "valid_from": "2026-01-01"}, 422, "civicloud.request.invalid"),
    ("not a date", "Drancy", {"kind": "ppp", "valid_from": "2026-02-30"}, 422, "civicloud.request.invalid"),
    ("unknown member", "Pantin", {"kind": "ppp", "valid_from": "2026-01-01"}, 404, "civicloud.member.not_found"),
])
def test_invalid_agreement(client: TestClient, case: str, member: str, body: dict[str, Any], status: int,
                           code: str) -> None:
    create_member(client, "Drancy", SIREN_DRANCY, "commune")
    assert error_code(client.post(f"{API}/members/{member}/agreements", json=body), status) == code
    assert ok(client.get(f"{API}/members/Drancy/agreements"), 200) == []


def test_agreements_of_unknown_member(client: TestClient) -> None:
    assert error_code(client.get(f"{API}/members/nobody/agreements"), 404) == "civicloud.member.not_found"
