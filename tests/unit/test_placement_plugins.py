"""Each placement plugin on a table of (case, request, host, expected status)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from civicloud.domain import Certification, CertificationKind, MemberCategory, ServiceClass
from civicloud.domain.offers import Offer
from civicloud.scheduler.framework import FILTERS, GroupConstraint, QuotaExceeded, Request, Residency
from civicloud.scheduler.profiles import HARVEST  # noqa: F401  # registers the plugins
from civicloud.scheduler.snapshot import HostRow, SiteFacts, build_snapshot

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # a Tuesday, 22:00 in Paris
SITE = SiteFacts("s1", "drancy", "lender", "Europe/Paris", "93", "11", Offer(committed_percent=25, default_percent=50))
HOST = HostRow("h1", "hv1", "s1", total=(16, 65536, 1000, 0), ratios=(1.0, 1.0, 1.0, 1.0), last_seen_at=NOW)
REQ = Request("w1", (2, 4096, 10, 0), ServiceClass.HARVEST, "borrower", MemberCategory.COMMUNE)


def attested(cert: Certification) -> Certification:
    """The certification as the federation's operator attested it: only then does it count."""
    return replace(cert, attested_at=NOW, attested_by="user:operator")


HDS_SITE = replace(SITE, certifications=(
    attested(Certification(CertificationKind.HDS, date(2027, 1, 1), frozenset({1, 2, 3}))),
    attested(Certification(CertificationKind.ISO27001, date(2026, 1, 1)))))


def _holidays_unknown(_day: date) -> bool:
    raise NotImplementedError("Entity `FR` does not have subdivision XX")  # what the holidays library raises


NO_TIMEZONE_SITE = replace(SITE, timezone="Nowhere/Atlantis")
NO_HOLIDAYS_SITE = replace(SITE, is_holiday=_holidays_unknown)


def run(filter_name: str, request: Request, host: HostRow = HOST, site: SiteFacts = SITE) -> str | None:
    """None when the host passes, else the reason code."""
    snap = build_snapshot([host], [site], NOW, timedelta(seconds=60))
    plugin = FILTERS[filter_name]()
    passed, reason = plugin.filter(request, snap, np.arange(1))
    return None if passed[0] else plugin.reasons[reason[0]].code


CASES = [
    # (case, filter, request, host, site, expected reason or None)
    ("fits", "resources_fit", REQ, HOST, SITE, None),
    ("too much memory", "resources_fit", replace(REQ, resources=(2, 70000, 10, 0)), HOST, SITE,
     "insufficient_memory_mib"),
    ("vCPU short is named first", "resources_fit", replace(REQ, resources=(17, 70000, 10, 0)), HOST, SITE,
     "insufficient_vcpus"),
    ("GPU asked, none there", "resources_fit", replace(REQ, resources=(1, 1, 0, 1)), HOST, SITE,
     "insufficient_gpus"),
    ("allocations count", "resources_fit", REQ, replace(HOST, allocated=(15, 0, 0, 0)), SITE, "insufficient_vcpus"),
    ("reserve is not lent", "resources_fit", REQ, replace(HOST, reserved=(15, 0, 0, 0)), SITE, "insufficient_vcpus"),
    ("ratio overcommits vCPU", "resources_fit", replace(REQ, resources=(40, 1, 0, 0)),
     replace(HOST, ratios=(4.0, 1.0, 1.0, 1.0)), SITE, None),
    ("host reporting", "host_reporting", REQ, HOST, SITE, None),
    ("host silent", "host_reporting", REQ, replace(HOST, last_seen_at=NOW - timedelta(minutes=5)), SITE,
     "host_not_reporting"),
    ("never seen", "host_reporting", REQ, replace(HOST, last_seen_at=None), SITE, "host_not_reporting"),
    ("offer open", "offer_open", REQ, HOST, SITE, None),
    ("offer closed now", "offer_open", REQ, HOST, replace(SITE, offer=Offer()), "offer_closed_now"),
    ("guaranteed needs a committed share", "offer_open", replace(REQ, service_class=ServiceClass.GUARANTEED), HOST,
     replace(SITE, offer=Offer(default_percent=80)), "offer_closed_now"),
    ("category refused", "offer_open", replace(REQ, borrower_category=MemberCategory.STARTUP), HOST,
     replace(SITE, offer=Offer(default_percent=50, borrower_categories=frozenset({MemberCategory.COMMUNE}))),
     "borrower_category_not_allowed"),
    ("calendar unavailable: a time zone this machine lacks", "offer_open", REQ, HOST, NO_TIMEZONE_SITE,
     "offer_calendar_unavailable"),
    ("calendar unavailable: the holidays cannot be looked up", "offer_open", REQ, HOST, NO_HOLIDAYS_SITE,
     "offer_calendar_unavailable"),
    ("guaranteed work needs no calendar", "offer_open", replace(REQ, service_class=ServiceClass.GUARANTEED), HOST,
     NO_TIMEZONE_SITE, None),
    ("guaranteed without a committed share is closed, calendar or not", "offer_open",
     replace(REQ, service_class=ServiceClass.GUARANTEED), HOST,
     replace(NO_TIMEZONE_SITE, offer=Offer(default_percent=80)), "offer_closed_now"),
    ("harvest fits in the lent half", "service_class", replace(REQ, resources=(8, 1, 0, 0)), HOST, SITE, None),
    ("harvest beyond the lent half", "service_class", replace(REQ, resources=(9, 1, 0, 0)), HOST, SITE,
     "lent_share_used_up"),
    ("guaranteed within the committed quarter", "service_class",
     replace(REQ, resources=(4, 1, 0, 0), service_class=ServiceClass.GUARANTEED), HOST, SITE, None),
    ("guaranteed beyond the committed quarter", "service_class",
     replace(REQ, resources=(5, 1, 0, 0), service_class=ServiceClass.GUARANTEED), HOST, SITE,
     "committed_share_used_up"),
    ("harvest allocations do not eat the committed room", "service_class",
     replace(REQ, resources=(4, 1, 0, 0), service_class=ServiceClass.GUARANTEED),
     replace(HOST, allocated=(6, 0, 0, 0)), SITE, None),
    ("owner idle", "owner_reserve", REQ, HOST, SITE, None),
    ("owner busy", "owner_reserve", REQ, replace(HOST, owner_used=(15, 0, 0, 0)), SITE, "owner_needs_capacity"),
    ("owner's load and reserve together", "owner_reserve", REQ,
     replace(HOST, owner_used=(8, 0, 0, 0), reserved=(7, 0, 0, 0)), SITE, "owner_needs_capacity"),
    ("no certification asked", "certification", REQ, HOST, SITE, None),
    ("HDS asked, site not certified", "certification", replace(REQ, hds_activities=frozenset({1})), HOST, SITE,
     "not_hds_certified"),
    ("HDS activities held", "certification", replace(REQ, hds_activities=frozenset({1, 3})), HOST, HDS_SITE, None),
    ("HDS activity not held", "certification", replace(REQ, hds_activities=frozenset({5})), HOST, HDS_SITE,
     "not_hds_certified"),
    ("HDS expired", "certification", replace(REQ, hds_activities=frozenset({1})), HOST,
     replace(HDS_SITE, certifications=(attested(Certification(CertificationKind.HDS, date(2026, 11, 30),
                                                              frozenset({1}))),)),
     "not_hds_certified"),
    ("HDS only proposed, not attested", "certification", replace(REQ, hds_activities=frozenset({1})), HOST,
     replace(HDS_SITE, certifications=(Certification(CertificationKind.HDS, date(2027, 1, 1), frozenset({1})),)),
     "not_hds_certified"),
    ("HDS attested, not valid yet", "certification", replace(REQ, hds_activities=frozenset({1})), HOST,
     replace(HDS_SITE, certifications=(attested(Certification(CertificationKind.HDS, date(2028, 1, 1),
                                                              frozenset({1}), valid_from=date(2027, 1, 1))),)),
     "not_hds_certified"),
    ("ISO 27001 expired", "certification", replace(REQ, traits=frozenset({"iso27001"})), HOST, HDS_SITE,
     "missing_certification"),
    ("no residency", "residency", REQ, HOST, SITE, None),
    ("region matches", "residency", replace(REQ, residency=Residency(regions=("11",))), HOST, SITE, None),
    ("other département", "residency", replace(REQ, residency=Residency(departments=("92",))), HOST, SITE,
     "outside_residency"),
    ("other country", "residency", replace(REQ, residency=Residency(countries=("BE",))), HOST, SITE,
     "outside_residency"),
    ("no group", "affinity", REQ, HOST, SITE, None),
    ("same host: the group's host", "affinity", replace(REQ, group=GroupConstraint("same_host", frozenset({"h1"}))),
     HOST, SITE, None),
    ("same host: another host", "affinity", replace(REQ, group=GroupConstraint("same_host", frozenset({"h9"}))),
     HOST, SITE, "not_group_host"),
    ("different host: taken", "affinity",
     replace(REQ, group=GroupConstraint("different_host", frozenset({"h1"}))), HOST, SITE, "group_host_taken"),
    ("different site: taken", "affinity",
     replace(REQ, group=GroupConstraint("different_site", frozenset({"h9"}), frozenset({"s1"}))), HOST, SITE,
     "group_site_taken"),
    ("quota fine", "quota", REQ, HOST, SITE, None),
    ("quota reached", "quota", replace(REQ, quota_exceeded=QuotaExceeded("vcpus", 8, 8)), HOST, SITE,
     "quota_exceeded"),
]


@pytest.mark.parametrize(("case", "name", "request_", "host", "site", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter(case: str, name: str, request_: Request, host: HostRow, site: SiteFacts, expected: str | None) -> None:
    assert run(name, request_, host, site) == expected


def test_different_site_sees_through_a_hosts_own_offer() -> None:
    """A host with an offer of its own sits in a copy of its site ("<site>#<host>"): still the same site."""
    copy = replace(SITE, id="s1#h1")
    host = replace(HOST, site_id="s1#h1")
    group = GroupConstraint("different_site", frozenset({"h9"}), frozenset({"s1"}))
    assert run("affinity", replace(REQ, group=group), host, copy) == "group_site_taken"
