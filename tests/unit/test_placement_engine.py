"""schedule(snapshot, request, profile): filters in order, scores, ranking, explanation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from civicloud.domain import Certification, CertificationKind, MemberCategory, ServiceClass
from civicloud.domain.offers import Offer, Window
from civicloud.errors import InvalidInput
from civicloud.scheduler.framework import Profile, Request, schedule
from civicloud.scheduler.profiles import GUARANTEED, HARVEST, profile_for
from civicloud.scheduler.snapshot import HostRow, SiteFacts, build_snapshot

TUESDAY_10H = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Paris
TUESDAY_22H = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 22:00 in Paris
NIGHTS = Offer(default_percent=0, windows=(Window(frozenset(range(5)), time(20), time(7), 80),
                                           Window(frozenset({5, 6}), time(0), time(0), 80)))
REQ = Request("w1", (2, 4096, 10, 0), ServiceClass.HARVEST, "bobigny", MemberCategory.COMMUNE)


def site(sid: str, offer: Offer = Offer(committed_percent=20, default_percent=50), **kw: object) -> SiteFacts:
    return SiteFacts(sid, sid, kw.pop("member", f"m-{sid}"), "Europe/Paris", "93", "11", offer, **kw)  # type: ignore[arg-type]


def host(hid: str, sid: str, now: datetime, **kw: object) -> HostRow:
    return HostRow(hid, hid, sid, total=(32, 131072, 2000, 0), last_seen_at=now, **kw)  # type: ignore[arg-type]


def test_office_hours_offer_refuses_at_10h_and_places_at_22h() -> None:
    """A harvest request at 10:00 on a Tuesday is refused by a nights-only offer, and placed at 22:00."""
    sites = [site("drancy", NIGHTS)]
    for now, expected in ((TUESDAY_10H, None), (TUESDAY_22H, "hv1")):
        snap = build_snapshot([host("hv1", "drancy", now)], sites, now, timedelta(seconds=60))
        decision = schedule(snap, REQ, HARVEST)
        assert decision.best == expected
    refused = schedule(build_snapshot([host("hv1", "drancy", TUESDAY_10H)], sites, TUESDAY_10H,
                                      timedelta(seconds=60)), REQ, HARVEST)
    assert refused.summary() == "1 host: 1 offer closed now"
    assert refused.reason_for("hv1") == ("offer_open", "offer_closed_now")


def test_ehealth_lands_only_on_a_valid_hds_site() -> None:
    hds = Certification(CertificationKind.HDS, date(2027, 6, 30), frozenset(range(1, 7)), attested_at=TUESDAY_22H,
                        attested_by="user:operator")
    expired = replace(hds, expires_on=date(2026, 11, 1))
    sites = [site("drancy"), site("avicenne", certifications=(hds,)), site("old-hds", certifications=(expired,))]
    hosts = [host("d1", "drancy", TUESDAY_22H), host("a1", "avicenne", TUESDAY_22H),
             host("o1", "old-hds", TUESDAY_22H)]
    snap = build_snapshot(hosts, sites, TUESDAY_22H, timedelta(seconds=60))
    ehealth = replace(REQ, hds_activities=frozenset({1, 2}))
    decision = schedule(snap, ehealth, HARVEST)
    assert decision.ranked == ("a1",)
    assert decision.reason_for("d1") == decision.reason_for("o1") == ("certification", "not_hds_certified")

    no_hds = build_snapshot([hosts[0], hosts[2]], [sites[0], sites[2]], TUESDAY_22H, timedelta(seconds=60))
    pending = schedule(no_hds, ehealth, HARVEST)
    assert pending.best is None
    assert "2 not HDS-certified" in pending.summary()


def test_summary_counts_each_reason_once_per_host() -> None:
    sites = [site("a"), site("b", Offer()), site("c")]
    hosts = [host("a1", "a", TUESDAY_22H), host("a2", "a", TUESDAY_22H, allocated=(63, 0, 0, 0)),
             host("b1", "b", TUESDAY_22H), host("c1", "c", TUESDAY_22H - timedelta(hours=1))]
    decision = schedule(build_snapshot(hosts, sites, TUESDAY_22H, timedelta(seconds=60)), REQ, HARVEST)
    assert decision.ranked == ("a1",)
    assert decision.summary() == "4 hosts: 1 fit, 1 agent not reporting, 1 offer closed now, 1 lent share used up"
    assert len(decision.rejected_by) == 3


def test_harvest_packs_onto_the_fuller_host_guaranteed_spreads() -> None:
    sites = [site("a"), site("b")]
    hosts = [host("empty", "a", TUESDAY_22H), host("busy", "b", TUESDAY_22H, allocated=(8, 32768, 0, 0))]
    snap = build_snapshot(hosts, sites, TUESDAY_22H, timedelta(seconds=60))
    assert schedule(snap, REQ, HARVEST).ranked == ("busy", "empty")
    guaranteed = replace(REQ, service_class=ServiceClass.GUARANTEED)
    assert schedule(snap, guaranteed, GUARANTEED).ranked == ("empty", "busy")


def test_low_carbon_and_proximity_break_ties() -> None:
    near_dirty = site("near", latitude=48.92, longitude=2.45, carbon_g_per_kwh=300.0)
    far_clean = site("far", latitude=43.6, longitude=1.44, carbon_g_per_kwh=20.0)
    hosts = [host("n1", "near", TUESDAY_22H), host("f1", "far", TUESDAY_22H)]
    snap = build_snapshot(hosts, [near_dirty, far_clean], TUESDAY_22H, timedelta(seconds=60))
    only_carbon = Profile.build("carbon", ["resources_fit"], [("low_carbon", 1.0)])
    only_distance = Profile.build("near", ["resources_fit"], [("proximity", 1.0)])
    borrower = replace(REQ, borrower_location=(48.91, 2.44))  # Bobigny
    assert schedule(snap, borrower, only_carbon).ranked == ("f1", "n1")
    assert schedule(snap, borrower, only_distance).ranked == ("n1", "f1")


def test_equal_scores_keep_snapshot_order() -> None:
    sites = [site("a")]
    hosts = [host(f"h{i:02d}", "a", TUESDAY_22H) for i in range(40)]
    decision = schedule(build_snapshot(hosts, sites, TUESDAY_22H, timedelta(seconds=60)), REQ, HARVEST, top=5)
    assert decision.ranked == ("h00", "h01", "h02", "h03", "h04")
    assert decision.feasible == 40


def test_with_claim_updates_rooms_and_generation() -> None:
    snap = build_snapshot([host("h1", "a", TUESDAY_22H)], [site("a")], TUESDAY_22H, timedelta(seconds=60))
    after = snap.with_claim(0, REQ.vector, ServiceClass.HARVEST)
    assert after.generations[0] == snap.generations[0] + 1
    assert after.free[0, 0] == snap.free[0, 0] - 2 and after.lent_room[1, 0] == snap.lent_room[1, 0] - 4096
    assert snap.free[0, 0] == 128  # the original is untouched: 32 × 4.0
    assert bool(after.lenders_active[after.lender_of[0]])


def test_profiles_refuse_unknown_plugins_and_bad_weights() -> None:
    with pytest.raises(InvalidInput) as err:
        Profile.build("x", ["nope"], [])
    assert err.value.code == "civicloud.scheduler.unknown_plugin"
    with pytest.raises(InvalidInput) as err:
        Profile.build("x", [], [("pack", 0.0)])
    assert err.value.code == "civicloud.scheduler.invalid_weight"
    assert profile_for(ServiceClass.GUARANTEED) is GUARANTEED


def test_empty_federation() -> None:
    snap = build_snapshot([], [], TUESDAY_22H, timedelta(seconds=60))
    decision = schedule(snap, REQ, HARVEST)
    assert decision.best is None and decision.summary() == "no host has joined the federation yet"
    assert np.asarray(snap.free).shape == (4, 0)


def test_a_site_whose_calendar_cannot_be_read_lends_nothing() -> None:
    """A time zone missing on this machine closes that site's offer, with a reason of its own (not "closed now":
    the lender has its calendar to fix); other sites place as usual."""
    broken = replace(site("broken"), timezone="Nowhere/Atlantis")
    hosts = [host("b1", "broken", TUESDAY_22H), host("a1", "a", TUESDAY_22H)]
    snap = build_snapshot(hosts, [broken, site("a")], TUESDAY_22H, timedelta(seconds=60))
    decision = schedule(snap, REQ, HARVEST)
    assert decision.ranked == ("a1",) and decision.reason_for("b1") == ("offer_open", "offer_calendar_unavailable")
    assert list(snap.calendar_ok) == [False, True] and snap.share_now[0] == 0
    alone = schedule(build_snapshot(hosts[:1], [broken], TUESDAY_22H, timedelta(seconds=60)), REQ, HARVEST)
    assert alone.summary() == "1 host: 1 offer calendar cannot be evaluated"


def test_a_calendar_that_cannot_be_read_takes_nothing_back() -> None:
    """What a site lends is unknown while its calendar cannot be evaluated, not nothing: its workloads stay, as
    on a host whose agent is silent; a readable site whose share is exceeded is still short."""
    from civicloud.scheduler.reclaim import host_deficits

    broken = replace(site("broken"), timezone="Nowhere/Atlantis")
    over = replace(site("a"), offer=Offer(default_percent=0))
    loaded = [replace(host("b1", "broken", TUESDAY_22H), allocated=(8, 8192, 10, 0)),
              replace(host("a1", "a", TUESDAY_22H), allocated=(8, 8192, 10, 0))]
    snap = build_snapshot(loaded, [broken, over], TUESDAY_22H, timedelta(seconds=60))
    deficits = host_deficits(snap)
    assert not deficits[:, 0].any() and deficits[:, 1].any()
