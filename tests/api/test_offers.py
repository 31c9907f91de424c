"""/api/v1/sites/{id}/offer and /api/v1/hosts/{id}/offer: set → read → refused → host override removed.

An offer lends a committed share at all times, a default share, and weekly
calendar windows in the site's time zone; a host may carry an offer of its own
that overrides its site's until it is removed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from civicloud_support import API, Region, error_code, ok

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
# Office hours lend 20 %, the rest of the week 80 %; 10 % is committed whatever the hour.
OFFICE = {"committed_percent": 10, "default_percent": 80,
          "windows": [{"days": WEEKDAYS, "start": "08:00", "end": "19:00", "share_percent": 20}],
          "borrower_categories": ["hospital", "commune"], "reclaim_notice_s": 600}
# The same share at every moment of the week: what it lends now does not depend on when the test runs.
ALWAYS_30 = {"windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00",
                          "end": "00:00", "share_percent": 30}]}
MON, TUE, SAT, SUN = 0, 1, 5, 6


def site_offer(client: TestClient, site: str = "drancy-mairie") -> dict[str, Any]:
    return ok(client.get(f"{API}/sites/{site}/offer"), 200)


# -- set -------------------------------------------------------------------------------------------


def test_set_a_site_offer(client: TestClient, region: Region) -> None:
    site_id = region.sites["drancy-mairie"]
    before = datetime.now(UTC)
    offer = ok(client.put(f"{API}/sites/{site_id}/offer", json=OFFICE), 200)
    assert (offer["site_id"], offer["host_id"]) == (site_id, None)
    assert (offer["committed_percent"], offer["default_percent"], offer["reclaim_notice_s"]) == (10.0, 80.0, 600)
    assert offer["windows"] == OFFICE["windows"]
    assert offer["borrower_categories"] == ["commune", "hospital"]  # sorted
    assert datetime.fromisoformat(offer["updated_at"]) >= before - timedelta(seconds=1)
    # Office hours or not, depending on when the test runs; the share changes within the week either way.
    assert offer["lent_now_percent"] in (20.0, 80.0)
    change = datetime.fromisoformat(offer["next_change_at"])
    assert before - timedelta(minutes=1) < change <= before + timedelta(days=3)


def test_timeline_is_seven_days_of_24_hours(client: TestClient, region: Region) -> None:
    timeline = ok(client.put(f"{API}/sites/drancy-mairie/offer", json=OFFICE), 200)["timeline"]
    assert len(timeline) == 7 and all(len(day) == 24 for day in timeline)
    assert timeline[MON][7] == 80.0 and timeline[MON][8] == 20.0 and timeline[MON][18] == 20.0
    assert timeline[MON][19] == 80.0
    assert timeline[SAT] == [80.0] * 24 and timeline[SUN] == [80.0] * 24


def test_timeline_of_windows_past_midnight(client: TestClient, region: Region) -> None:
    """A window whose end is before its start runs into the next day; the committed share is a floor."""
    nights = {"committed_percent": 5, "windows": [{"days": WEEKDAYS, "start": "20:00", "end": "07:00",
                                                   "share_percent": 80}]}
    timeline = ok(client.put(f"{API}/sites/drancy-mairie/offer", json=nights), 200)["timeline"]
    assert timeline[MON][3] == 5.0  # Sunday night is not a window: the committed share only
    assert timeline[TUE][3] == 80.0  # Monday night, continued
    assert timeline[TUE][7] == 5.0 and timeline[TUE][20] == 80.0
    assert timeline[SAT][6] == 80.0 and timeline[SAT][7] == 5.0  # Friday night runs into Saturday
    assert timeline[SUN] == [5.0] * 24


def test_a_whole_day_window(client: TestClient, region: Region) -> None:
    offer = ok(client.put(f"{API}/sites/drancy-mairie/offer", json=ALWAYS_30), 200)
    assert offer["timeline"] == [[30.0] * 24] * 7
    assert (offer["lent_now_percent"], offer["next_change_at"]) == (30.0, None)


def test_setting_again_replaces_the_offer(client: TestClient, region: Region) -> None:
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json=OFFICE), 200)
    offer = ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"default_percent": 40}), 200)
    assert (offer["committed_percent"], offer["windows"], offer["borrower_categories"]) == (0.0, [], [])
    assert offer["reclaim_notice_s"] == 30  # the default notice
    assert site_offer(client)["default_percent"] == 40.0


# -- read ------------------------------------------------------------------------------------------


def test_read_a_site_offer(client: TestClient, region: Region) -> None:
    site_id = region.sites["drancy-mairie"]
    offer = ok(client.put(f"{API}/sites/{site_id}/offer", json=ALWAYS_30), 200)
    assert site_offer(client, site_id) == offer
    assert site_offer(client, "drancy-mairie") == offer  # by name
    # A site that never made an offer lends nothing.
    none = site_offer(client, "avicenne-dc")
    assert (none["updated_at"], none["lent_now_percent"], none["default_percent"]) == (None, 0.0, 0.0)
    assert none["timeline"] == [[0.0] * 24] * 7


def test_a_host_without_an_offer_follows_its_site(client: TestClient, region: Region) -> None:
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json=ALWAYS_30), 200)
    offer = ok(client.get(f"{API}/hosts/{region.host('drancy-h1')}/offer"), 200)
    assert offer == site_offer(client)
    assert offer["host_id"] is None  # the site's own offer


def test_a_host_offer_overrides_its_site(client: TestClient, region: Region) -> None:
    h1, h2 = region.host("drancy-h1"), region.host("drancy-h2")
    generation = ok(client.get(f"{API}/hosts/{h1}"), 200)["generation"]
    mine = ok(client.put(f"{API}/hosts/{h1}/offer", json=ALWAYS_30), 200)
    assert (mine["site_id"], mine["host_id"], mine["lent_now_percent"]) == (region.sites["drancy-mairie"], h1, 30.0)
    assert ok(client.get(f"{API}/hosts/{h1}/offer"), 200) == mine
    assert site_offer(client)["default_percent"] == 50.0  # the site's offer is untouched
    host = ok(client.get(f"{API}/hosts/{h1}"), 200)
    assert host["lend_share_percent"] == 30.0 and host["generation"] == generation + 1
    assert host["free"] == {"vcpus": 19, "memory_mib": 19660, "disk_gib": 300, "gpus": 0}  # ⌊30 % of each⌋
    assert ok(client.get(f"{API}/hosts/{h2}"), 200)["lend_share_percent"] == 50.0
    assert ok(client.get(f"{API}/hosts/{h2}/offer"), 200)["host_id"] is None


# -- refused ---------------------------------------------------------------------------------------


def window(days: list[str], start: str, end: str, share: float = 50) -> dict[str, Any]:
    return {"days": days, "start": start, "end": end, "share_percent": share}


@pytest.mark.parametrize(("case", "body", "code", "field"), [
    ("windows overlapping on Monday evening",
     {"windows": [window(["mon"], "08:00", "19:00"), window(["mon"], "18:00", "08:00")]},
     "civicloud.offer.overlapping_windows", "windows.1"),
    ("Friday night running into a whole Saturday",
     {"windows": [window(WEEKDAYS, "19:00", "08:00"), window(["sat", "sun"], "00:00", "00:00")]},
     "civicloud.offer.overlapping_windows", "windows.1"),
    ("the same day twice in two windows",
     {"windows": [window(["tue"], "10:00", "11:00"), window(["mon", "tue"], "10:30", "10:45")]},
     "civicloud.offer.overlapping_windows", "windows.1"),
    ("default share over 100 %", {"default_percent": 100.5}, "civicloud.request.invalid", "default_percent"),
    ("committed share over 100 %", {"committed_percent": 150}, "civicloud.request.invalid", "committed_percent"),
    ("window share over 100 %", {"windows": [window(["mon"], "08:00", "09:00", 101)]},
     "civicloud.request.invalid", "windows.0.share_percent"),
    ("negative share", {"default_percent": -5}, "civicloud.request.invalid", "default_percent"),
    ("window without days", {"windows": [window([], "08:00", "09:00")]}, "civicloud.request.invalid",
     "windows.0.days"),
    ("unknown day", {"windows": [window(["lundi"], "08:00", "09:00")]}, "civicloud.request.invalid",
     "windows.0.days.0"),
    ("24:00 is not a time", {"windows": [window(["mon"], "08:00", "24:00")]}, "civicloud.request.invalid",
     "windows.0.end"),
    ("unknown borrower category", {"borrower_categories": ["kingdom"]}, "civicloud.request.invalid",
     "borrower_categories.0"),
    ("notice longer than a week", {"reclaim_notice_s": 7 * 86400 + 1}, "civicloud.request.invalid",
     "reclaim_notice_s"),
    ("the old single share", {"share_percent": 50}, "civicloud.request.invalid", "share_percent"),
])
@pytest.mark.parametrize("target", ["site", "host"])
def test_invalid_offer(client: TestClient, region: Region, target: str, case: str, body: dict[str, Any],
                       code: str, field: str) -> None:
    url = f"{API}/sites/drancy-mairie/offer" if target == "site" else f"{API}/hosts/{region.host('drancy-h1')}/offer"
    before = ok(client.get(url), 200)
    r = client.put(url, json=body)
    assert error_code(r, 422) == code
    assert r.json()["error"]["field"] == field
    assert ok(client.get(url), 200) == before  # nothing changed


@pytest.mark.parametrize(("method", "url", "code"), [
    ("PUT", "/sites/nowhere/offer", "civicloud.site.not_found"),
    ("GET", "/sites/nowhere/offer", "civicloud.site.not_found"),
    ("PUT", "/hosts/no-such-host/offer", "civicloud.host.not_found"),
    ("GET", "/hosts/no-such-host/offer", "civicloud.host.not_found"),
    ("DELETE", "/hosts/no-such-host/offer", "civicloud.host.not_found"),
])
def test_offer_of_unknown_site_or_host(client: TestClient, region: Region, method: str, url: str,
                                       code: str) -> None:
    body = {"default_percent": 50} if method == "PUT" else None
    assert error_code(client.request(method, f"{API}{url}", json=body), 404) == code


# -- host override removed ---------------------------------------------------------------------------


def test_remove_a_host_offer(client: TestClient, region: Region) -> None:
    h1 = region.host("drancy-h1")
    ok(client.put(f"{API}/hosts/{h1}/offer", json=ALWAYS_30), 200)
    generation = ok(client.get(f"{API}/hosts/{h1}"), 200)["generation"]
    back = ok(client.delete(f"{API}/hosts/{h1}/offer"), 200)
    assert back == site_offer(client)  # answers the site's offer, which the host follows again
    assert back["host_id"] is None and back["default_percent"] == 50.0
    assert ok(client.get(f"{API}/hosts/{h1}/offer"), 200) == back
    host = ok(client.get(f"{API}/hosts/{h1}"), 200)
    assert host["lend_share_percent"] == 50.0 and host["generation"] == generation + 1
    # Removing again is harmless: the host already follows its site.
    assert ok(client.delete(f"{API}/hosts/{h1}/offer"), 200) == back
