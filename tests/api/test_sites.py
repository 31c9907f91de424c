"""/api/v1/sites: create → read → conflict; the offer and join tokens (sites are not deleted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from civicloud_support import API, SIREN_AVICENNE, SIREN_DRANCY, create_member, create_site, error_code, ok
from fastapi.testclient import TestClient


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
    assert sorted(site["certifications"], key=lambda c: c["kind"]) == [
        {"kind": "hds", "expires_on": "2029-06-30", "activities": [1, 2, 5]},
        {"kind": "iso27001", "expires_on": "2028-01-01", "activities": []},
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


@pytest.mark.parametrize(("case", "body", "status", "code"), [
    ("not an INSEE code", {"insee_code": "9302A"}, 422, "civicloud.site.invalid_insee_code"),
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
