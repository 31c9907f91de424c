"""/api/v1/sites: create → read → conflict; the offer and join tokens (sites are not deleted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud.services import identity

from civicloud_support import (
    API,
    SIREN_AVICENNE,
    SIREN_BOBIGNY,
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

PASSWORD = "correct horse battery staple"


@pytest.fixture
def drancy(client: TestClient) -> str:
    return create_member(client, "Drancy", SIREN_DRANCY, "commune")["id"]


def test_create(client: TestClient, drancy: str) -> None:
    site = ok(client.post(f"{API}/sites", json={
        "member_id": drancy, "name": "drancy-mairie", "insee_code": "93029"}), 201)
    assert (site["member_id"], site["name"], site["insee_code"]) == (drancy, "drancy-mairie", "93029")
    assert site["timezone"] == "Europe/Paris"
    assert site["certifications"] == []
    assert (site["department"], site["region"], site["country"]) == ("93", "11", "FR")  # from the INSEE code
    assert (site["latitude"], site["longitude"], site["carbon_g_per_kwh"]) == (None, None, None)
    offer = ok(client.get(f"{API}/sites/{site['id']}/offer"), 200)
    assert (offer["updated_at"], offer["lent_now_percent"]) == (None, 0.0)  # nothing is lent until the lender says so


def test_create_with_location_and_carbon(client: TestClient, drancy: str) -> None:
    site = create_site(client, drancy, "drancy-mairie", "93029", latitude=48.9229, longitude=2.4455,
                       carbon_g_per_kwh=35.5)
    assert (site["latitude"], site["longitude"], site["carbon_g_per_kwh"]) == (48.9229, 2.4455, 35.5)
    corsica = create_site(client, drancy, "ajaccio-dc", "2a004", country="FR")
    assert (corsica["insee_code"], corsica["department"], corsica["region"]) == ("2A004", "2A", "94")
    assert ok(client.get(f"{API}/sites/{site['id']}"), 200) == site


def test_create_with_certifications(client: TestClient) -> None:
    avicenne = create_member(client, "Hôpital Avicenne", SIREN_AVICENNE, "hospital")
    site = create_site(client, avicenne["id"], "avicenne-dc", "93008", timezone="Europe/Paris", certifications=[
        {"kind": "hds", "expires_on": "2029-06-30", "activities": [5, 1, 2]},
        {"kind": "iso27001", "expires_on": "2028-01-01"},
    ])
    assert site["member_id"] == avicenne["id"]
    unattested = {"attested": False, "valid_from": None, "attested_at": None, "attested_by": None,
                  "certificate_number": None, "issuer": None}  # proposed: nothing counts until the operator attests
    assert sorted(site["certifications"], key=lambda c: c["kind"]) == [
        {"kind": "hds", "expires_on": "2029-06-30", "activities": [1, 2, 5], **unattested},
        {"kind": "iso27001", "expires_on": "2028-01-01", "activities": [], **unattested},
    ]
    assert ok(client.get(f"{API}/sites/{site['id']}"), 200) == site


def test_read(client: TestClient, drancy: str) -> None:
    site = create_site(client, drancy, "drancy-mairie", "93029")
    other = create_member(client, "Hôpital Avicenne", SIREN_AVICENNE, "hospital")
    create_site(client, other["id"], "avicenne-dc", "93008")
    assert ok(client.get(f"{API}/sites/{site['id']}"), 200) == site
    assert ok(client.get(f"{API}/sites/drancy-mairie"), 200) == site
    assert [s["name"] for s in ok(client.get(f"{API}/sites"), 200)] == ["avicenne-dc", "drancy-mairie"]
    assert ok(client.get(f"{API}/sites", params={"member_id": drancy}), 200) == [site]
    assert error_code(client.get(f"{API}/sites/nowhere"), 404) == "civicloud.site.not_found"
    assert error_code(client.get(f"{API}/sites", params={"member_id": "nobody"}), 404) == "civicloud.member.not_found"


def test_conflict_on_name(client: TestClient, drancy: str) -> None:
    create_site(client, drancy, "drancy-mairie", "93029")
    r = client.post(f"{API}/sites", json={"member_id": drancy, "name": "drancy-mairie", "insee_code": "93029"})
    assert error_code(r, 409) == "civicloud.site.name_taken"
    assert len(ok(client.get(f"{API}/sites"), 200)) == 1


def test_names_are_unique_per_member_and_resolved_within_the_callers(client: TestClient, drancy: str,
                                                                      uow_factory: Any) -> None:
    """Two members may both call a site "salle-serveurs"; neither learns of the other's by a refusal, each
    reaches its own by name, and the federation's staff, for whom the name is ambiguous, must use the id."""
    bobigny = create_member(client, "Bobigny", SIREN_BOBIGNY, "commune")["id"]
    theirs = create_site(client, drancy, "salle-serveurs", "93029")
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    admin = login(client, "admin")
    ok(client.post(f"{API}/users", headers=admin, json={"login": "bobigny-tech", "password": PASSWORD,
                                                        "member_id": bobigny, "roles": ["site_operator"]}), 201)
    tech = login(client, "bobigny-tech")
    assert error_code(client.get(f"{API}/sites/salle-serveurs", headers=tech), 404) == "civicloud.site.not_found"
    mine = ok(client.post(f"{API}/sites", headers=tech, json={
        "member_id": bobigny, "name": "salle-serveurs", "insee_code": "93008"}), 201)  # not name_taken
    assert mine["id"] != theirs["id"]
    for headers, expected in ((tech, mine), (admin, None)):
        r = client.get(f"{API}/sites/salle-serveurs", headers=headers)
        if expected is None:  # the operator sees both: the name alone does not say which
            assert error_code(r, 409) == "civicloud.site.ambiguous_name"
            assert "id" in r.json()["error"]["message"]
        else:
            assert ok(r, 200) == expected
    ok(client.put(f"{API}/sites/salle-serveurs/offer", headers=tech, json={"default_percent": 30}), 200)
    assert ok(client.get(f"{API}/sites/{mine['id']}/offer", headers=admin), 200)["default_percent"] == 30.0
    assert ok(client.get(f"{API}/sites/{theirs['id']}/offer", headers=admin), 200)["default_percent"] == 0.0
    assert error_code(client.post(f"{API}/sites/salle-serveurs/join-tokens", headers=admin), 409) == \
        "civicloud.site.ambiguous_name"
    ok(client.post(f"{API}/sites/salle-serveurs/join-tokens", headers=tech), 201)  # Bobigny's own, by name
    assert ok(client.get(f"{API}/hosts", headers=tech, params={"site_id": "salle-serveurs"}), 200) == []
    assert error_code(client.get(f"{API}/sites/{theirs['id']}", headers=tech), 404) == "civicloud.site.not_found"
    r = client.post(f"{API}/sites", headers=tech, json={"member_id": bobigny, "name": "salle-serveurs",
                                                        "insee_code": "93008"})
    assert error_code(r, 409) == "civicloud.site.name_taken"  # within its own member, names stay unique


@pytest.mark.parametrize(("case", "body", "status", "code"), [
    ("not an INSEE code", {"insee_code": "9302A"}, 422, "civicloud.site.invalid_insee_code"),
    ("well-formed, in no official list", {"insee_code": "00000"}, 422, "civicloud.site.invalid_insee_code"),
    ("a postcode, not an INSEE code", {"insee_code": "93700"}, 422, "civicloud.site.invalid_insee_code"),
    ("no such commune in Corse-du-Sud", {"insee_code": "2A999"}, 422, "civicloud.site.invalid_insee_code"),
    ("the same kind twice", {"certifications": [{"kind": "iso27001", "expires_on": "2029-01-01"},
                                                {"kind": "iso27001", "expires_on": "2030-01-01"}]},
     422, "civicloud.site.duplicate_certification"),
    ("INSEE code with non-ASCII digits", {"insee_code": "٩٣٠٢٩"}, 422, "civicloud.site.invalid_insee_code"),
    ("INSEE code too short", {"insee_code": "9302"}, 422, "civicloud.request.invalid"),
    ("unknown time zone", {"timezone": "Europe/Drancy"}, 422, "civicloud.site.invalid_timezone"),
    ("HDS without activities", {"certifications": [{"kind": "hds", "expires_on": "2029-01-01"}]},
     422, "civicloud.site.invalid_certification"),
    ("ISO 27001 with activities",
     {"certifications": [{"kind": "iso27001", "expires_on": "2029-01-01", "activities": [1]}]},
     422, "civicloud.site.invalid_certification"),
    ("HDS activity 7", {"certifications": [{"kind": "hds", "expires_on": "2029-01-01", "activities": [7]}]},
     422, "civicloud.request.invalid"),
    ("latitude without longitude", {"latitude": 48.9}, 422, "civicloud.site.invalid_location"),
    ("latitude beyond the pole", {"latitude": 91, "longitude": 2}, 422, "civicloud.request.invalid"),
    ("negative carbon intensity", {"carbon_g_per_kwh": -1}, 422, "civicloud.request.invalid"),
    ("lower-case country", {"country": "fr"}, 422, "civicloud.request.invalid"),
    ("unknown member", {"member_id": "nobody"}, 404, "civicloud.member.not_found"),
])
def test_invalid_site(client: TestClient, drancy: str, case: str, body: dict[str, Any], status: int,
                      code: str) -> None:
    r = client.post(f"{API}/sites", json={"member_id": drancy, "name": "drancy-mairie", "insee_code": "93029",
                                          **body})
    assert error_code(r, status) == code
    assert ok(client.get(f"{API}/sites"), 200) == []


def test_offer(client: TestClient, drancy: str) -> None:
    """The old single share is the default share of an offer without windows: lent at every hour."""
    site = create_site(client, drancy, "drancy-mairie", "93029")
    before = datetime.now(UTC)
    offer = ok(client.put(f"{API}/sites/{site['id']}/offer", json={"default_percent": 50}), 200)
    assert (offer["site_id"], offer["host_id"], offer["default_percent"]) == (site["id"], None, 50.0)
    assert (offer["committed_percent"], offer["windows"], offer["borrower_categories"]) == (0.0, [], [])
    assert (offer["lent_now_percent"], offer["next_change_at"]) == (50.0, None)
    assert datetime.fromisoformat(offer["updated_at"]) >= before - timedelta(seconds=1)
    assert ok(client.get(f"{API}/sites/{site['id']}/offer"), 200) == offer
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"default_percent": 0}), 200)  # by name
    assert ok(client.get(f"{API}/sites/{site['id']}/offer"), 200)["lent_now_percent"] == 0.0


@pytest.mark.parametrize(("case", "site", "body", "status", "code"), [
    ("above 100 %", "drancy-mairie", {"default_percent": 100.5}, 422, "civicloud.request.invalid"),
    ("negative", "drancy-mairie", {"committed_percent": -1}, 422, "civicloud.request.invalid"),
    ("not a number", "drancy-mairie", {"default_percent": "half"}, 422, "civicloud.request.invalid"),
    ("the old single share", "drancy-mairie", {"share_percent": 50}, 422, "civicloud.request.invalid"),
    ("overlapping windows", "drancy-mairie", {"windows": [
        {"days": ["mon"], "start": "08:00", "end": "19:00", "share_percent": 20},
        {"days": ["mon"], "start": "18:00", "end": "08:00", "share_percent": 80}]},
     422, "civicloud.offer.overlapping_windows"),
    ("unknown site", "nowhere", {"default_percent": 50}, 404, "civicloud.site.not_found"),
])
def test_invalid_offer(client: TestClient, drancy: str, case: str, site: str, body: dict[str, Any], status: int,
                       code: str) -> None:
    create_site(client, drancy, "drancy-mairie", "93029")
    assert error_code(client.put(f"{API}/sites/{site}/offer", json=body), status) == code
    offer = ok(client.get(f"{API}/sites/drancy-mairie/offer"), 200)
    assert (offer["updated_at"], offer["lent_now_percent"]) == (None, 0.0)  # nothing was set


def test_join_token(client: TestClient, drancy: str) -> None:
    site = create_site(client, drancy, "drancy-mairie", "93029")
    issued = ok(client.post(f"{API}/sites/{site['id']}/join-tokens"), 201)
    assert issued["site_id"] == site["id"]
    assert issued["token"].startswith("cvj_") and len(issued["token"]) > 40
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)  # the default TTL
    again = ok(client.post(f"{API}/sites/drancy-mairie/join-tokens"), 201)
    assert again["token"] != issued["token"]
    assert error_code(client.post(f"{API}/sites/nowhere/join-tokens"), 404) == "civicloud.site.not_found"


# -- certifications: proposed by the site's member, attested by the federation's operator ------------------


def login(client: TestClient, name: str) -> dict[str, str]:
    return bearer(ok(client.post(f"{API}/auth/tokens", json={"login": name, "password": PASSWORD}), 201)["token"])


ATTESTATION = {"certificate_number": "HDS-2026-0042", "issuer": "a certification body", "valid_from": "2026-01-01",
               "expires_on": "2099-06-30"}
HDS_ALL = {"kind": "hds", "expires_on": "2099-06-30", "activities": [1, 2, 3, 4, 5, 6]}


@pytest.fixture
def staff(client: TestClient, region: Region, uow_factory: Any) -> dict[str, dict[str, str]]:
    """The region (see conftest.region), then users: the federation's admin, and Avicenne's site operator."""
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    admin = login(client, "admin")
    ok(client.post(f"{API}/users", headers=admin, json={"login": "avicenne-tech", "password": PASSWORD,
                                                        "member_id": region.members["Hôpital Avicenne"],
                                                        "roles": ["site_operator"]}), 201)
    return {"admin": admin, "operator": login(client, "avicenne-tech")}


def reasons(client: TestClient, workload_id: str, headers: dict[str, str]) -> dict[tuple[str, str], int]:
    body = ok(client.get(f"{API}/workloads/{workload_id}", headers=headers), 200)
    return {(r["filter"], r["code"]): r["hosts"] for r in body["placement"]["reasons"]}


def test_a_self_declared_hds_site_gets_no_health_data_until_the_operator_attests(
        app: FastAPI, client: TestClient, region: Region, staff: dict[str, dict[str, str]]) -> None:
    """Avicenne's site operator declares a new room HDS 1–6 and opens it fully: an e-health workload stays
    pending there for the certification until the federation's operator attests the certificate."""
    admin, tech = staff["admin"], staff["operator"]
    room = ok(client.post(f"{API}/sites", headers=tech, json={
        "member_id": region.members["Hôpital Avicenne"], "name": "avicenne-salle-2", "insee_code": "93008",
        "certifications": [HDS_ALL]}), 201)
    assert [c["attested"] for c in room["certifications"]] == [False]
    ok(client.put(f"{API}/sites/{room['id']}/offer", headers=tech, json={"default_percent": 100}), 200)
    agent = join_site(client, room["id"], host_report("salle2-h1", 32, 131072, 2000), agent_name="salle2",
                      headers=tech)
    ok(client.post(f"{API}/offerings", headers=admin, json={"name": "vm-sante", "vcpus": 2, "memory_mib": 4096,
                                                            "hds_activities": [1, 2]}), 201)
    w = ok(client.post(f"{API}/workloads", headers=admin, json={
        "member_id": region.members["Bobigny"], "offering_id": "vm-sante", "name": "dossier-patient"}), 202)
    [outcome] = app.state.placer.run_once()
    assert not outcome.placed
    # Drancy's two hosts and the self-declared room: not certified; avicenne-dc (attested) lends nothing.
    assert reasons(client, w["id"], admin) == {("certification", "not_hds_certified"): 3,
                                               ("offer_open", "offer_closed_now"): 1}

    attest = f"{API}/sites/{room['id']}/certifications/hds/attest"
    r = client.post(attest, headers=tech, json=ATTESTATION)  # the site's own operator cannot attest
    assert error_code(r, 403) == "civicloud.auth.forbidden"
    r = client.post(attest, headers=admin, json={**ATTESTATION, "valid_from": "2020-01-01", "expires_on": "2021-01-01"})
    assert error_code(r, 422) == "civicloud.certification.expired"
    r = client.post(attest, headers=admin, json={**ATTESTATION, "valid_from": "2030-01-01", "expires_on": "2029-01-01"})
    assert error_code(r, 422) == "civicloud.certification.invalid_attestation"
    r = client.post(f"{API}/sites/{room['id']}/certifications/iso27001/attest", headers=admin, json=ATTESTATION)
    assert error_code(r, 404) == "civicloud.certification.not_found"  # nothing proposed of that kind
    app.state.placer.run_once()
    assert reasons(client, w["id"], admin)[("certification", "not_hds_certified")] == 3  # refusals changed nothing

    attested = ok(client.post(attest, headers=admin, json=ATTESTATION), 200)
    [cert] = attested["certifications"]
    assert (cert["attested"], cert["attested_by"], cert["certificate_number"], cert["issuer"]) == \
        (True, "user:admin", "HDS-2026-0042", "a certification body")
    assert (cert["valid_from"], cert["expires_on"], cert["activities"]) == \
        ("2026-01-01", "2099-06-30", [1, 2, 3, 4, 5, 6])
    assert ok(client.get(f"{API}/sites/{room['id']}", headers=tech), 200)["certifications"] == [cert]
    [outcome] = app.state.placer.run_once()
    assert outcome.placed and outcome.host_id == agent.hosts["salle2-h1"]

    entries = [e for e in ok(client.get(f"{API}/audit", headers=admin, params={"action": "/attest"}), 200)
               if f"site_id={room['id']}" in e["target"]]
    assert [(e["action"], e["outcome"], e["actor"]) for e in entries] == [
        ("POST /api/v1/sites/{site_id}/certifications/{kind}/attest", 200, "user:admin"),
        ("POST /api/v1/sites/{site_id}/certifications/{kind}/attest", 404, "user:admin"),
        ("POST /api/v1/sites/{site_id}/certifications/{kind}/attest", 422, "user:admin"),
        ("POST /api/v1/sites/{site_id}/certifications/{kind}/attest", 422, "user:admin"),
        ("POST /api/v1/sites/{site_id}/certifications/{kind}/attest", 403, "user:avicenne-tech"),
    ]
    assert entries[0]["target"] == f"kind=hds,site_id={room['id']}"


def test_a_proposal_or_renewal_replaces_the_attested_one_until_attested_again(
        client: TestClient, region: Region, staff: dict[str, dict[str, str]]) -> None:
    admin, tech = staff["admin"], staff["operator"]
    site = region.sites["avicenne-dc"]  # HDS 1–6, attested in the region
    assert ok(client.get(f"{API}/sites/{site}", headers=tech), 200)["certifications"][0]["attested"] is True
    proposed = ok(client.post(f"{API}/sites/{site}/certifications", headers=tech, json={
        "kind": "hds", "expires_on": "2031-12-31", "activities": [1, 2, 3, 4, 5, 6]}), 201)
    [cert] = proposed["certifications"]
    assert (cert["attested"], cert["expires_on"], cert["certificate_number"]) == (False, "2031-12-31", None)
    ok(client.post(f"{API}/sites/avicenne-dc/certifications", headers=tech, json={  # by name, its own
        "kind": "iso27001", "expires_on": "2030-01-01"}), 201)
    kinds = {c["kind"]: c["attested"] for c in ok(client.get(f"{API}/sites/{site}", headers=admin), 200)[
        "certifications"]}
    assert kinds == {"hds": False, "iso27001": False}
    # The operator attests the renewal, then withdraws it (a certificate suspended by its issuer).
    ok(client.post(f"{API}/sites/{site}/certifications/hds/attest", headers=admin, json=ATTESTATION), 200)
    assert error_code(client.delete(f"{API}/sites/{site}/certifications/hds/attest", headers=tech), 403) == \
        "civicloud.auth.forbidden"
    revoked = ok(client.delete(f"{API}/sites/{site}/certifications/hds/attest", headers=admin), 200)
    hds = next(c for c in revoked["certifications"] if c["kind"] == "hds")
    assert (hds["attested"], hds["attested_by"], hds["certificate_number"]) == (False, None, None)


@pytest.mark.parametrize(("case", "path", "body", "status", "code"), [
    ("HDS without activities", "avicenne-dc/certifications", {"kind": "hds", "expires_on": "2030-01-01"},
     422, "civicloud.site.invalid_certification"),
    ("unknown kind", "avicenne-dc/certifications", {"kind": "pci-dss", "expires_on": "2030-01-01"},
     422, "civicloud.request.invalid"),
    ("another member's site", "drancy-mairie/certifications", HDS_ALL, 404, "civicloud.site.not_found"),
    ("attest: unknown kind", "avicenne-dc/certifications/pci-dss/attest", ATTESTATION,
     422, "civicloud.request.invalid"),
])
def test_invalid_certification_requests(client: TestClient, staff: dict[str, dict[str, str]], case: str, path: str,
                                        body: dict[str, Any], status: int, code: str) -> None:
    headers = staff["admin"] if "attest" in path else staff["operator"]
    assert error_code(client.post(f"{API}/sites/{path}", headers=headers, json=body), status) == code
