"""First-fit placement over a snapshot: ranked hosts, and the reason every other host was left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicloud.domain import Host, Ratios, Resources
from civicloud.scheduler import REASON_HOST_STALE, Decision, PlacementRequest, Rejection, schedule

R = Resources
NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
STALE_AFTER = timedelta(seconds=60)


def host(name: str, total: Resources = R(16, 65536, 1000), *, allocated: Resources = R(), share: float = 100.0,
         seen_ago: float | None = 5.0, reserved: Resources = R()) -> Host:
    """A host named ``name``; its id is the name too, so expectations read as names."""
    return Host(id=name, site_id="site", name=name, libvirt_uri="test:///default", total=total,
                reserved=reserved, ratios=Ratios(), allocated=allocated, generation=0,
                last_seen_at=None if seen_ago is None else NOW - timedelta(seconds=seen_ago),
                lend_share_percent=share)


SMALL = R(2, 4096, 20)

CASES = [
    # (case, request, hosts, expected ranked ids, expected rejections as (id, reason))
    ("no host at all", SMALL, [], [], []),
    ("one host that fits", SMALL, [host("a")], ["a"], []),
    ("first fit keeps the snapshot's order", SMALL, [host("b"), host("a"), host("c")], ["b", "a", "c"], []),
    ("exact fit is a fit", R(64, 65536, 1000), [host("a")], ["a"], []),
    ("one vCPU too many", R(65, 1, 0), [host("a")], [], [("a", "insufficient_vcpus")]),
    ("memory short", R(1, 65537, 0), [host("a")], [], [("a", "insufficient_memory_mib")]),
    ("disk short", R(1, 1, 1001), [host("a")], [], [("a", "insufficient_disk_gib")]),
    ("the first short resource names the reason", R(65, 65537, 1001), [host("a")], [],
     [("a", "insufficient_vcpus")]),
    ("allocations taken into account", SMALL,
     [host("full", allocated=R(64, 65536, 1000)), host("half", allocated=R(32, 32768, 500))],
     ["half"], [("full", "insufficient_vcpus")]),
    ("the offer's share limits what fits", R(40, 1024, 0), [host("half", share=50), host("all")],
     ["all"], [("half", "insufficient_vcpus")]),
    ("a host lending nothing", SMALL, [host("closed", share=0)], [], [("closed", "insufficient_vcpus")]),
    ("the owner's reserve limits what fits", R(2, 60000, 0),
     [host("reserved", reserved=R(0, 8192, 0)), host("free")], ["free"],
     [("reserved", "insufficient_memory_mib")]),
    ("never reported", SMALL, [host("new", seen_ago=None)], [], [("new", REASON_HOST_STALE)]),
    ("silent for too long", SMALL, [host("old", seen_ago=61)], [], [("old", REASON_HOST_STALE)]),
    ("silent exactly as long as allowed still counts", SMALL, [host("edge", seen_ago=60)], ["edge"], []),
    ("stale is checked before capacity", R(999, 1, 0), [host("old", seen_ago=3600)], [],
     [("old", REASON_HOST_STALE)]),
    ("a mix", SMALL,
     [host("stale", seen_ago=None), host("full", allocated=R(63, 0, 0)), host("fits"), host("also")],
     ["fits", "also"], [("stale", REASON_HOST_STALE), ("full", "insufficient_vcpus")]),
]


@pytest.mark.parametrize(("case", "request_", "hosts", "ranked", "rejections"), CASES, ids=[c[0] for c in CASES])
def test_first_fit(case: str, request_: Resources, hosts: list[Host], ranked: list[str],
                   rejections: list[tuple[str, str]]) -> None:
    decision = schedule(hosts, PlacementRequest("w", request_), now=NOW, stale_after=STALE_AFTER)
    assert [h.id for h in decision.ranked] == ranked
    assert [(r.host_id, r.reason) for r in decision.rejections] == rejections
    assert decision.best is (decision.ranked[0] if ranked else None)
    # Every host is accounted for exactly once.
    assert len(decision.ranked) + len(decision.rejections) == len(hosts)


def test_schedule_accepts_any_iterable_and_is_deterministic() -> None:
    hosts = [host("a", allocated=R(63, 0, 0)), host("b"), host("c")]
    first = schedule(iter(hosts), PlacementRequest("w", SMALL), now=NOW, stale_after=STALE_AFTER)
    again = schedule(tuple(hosts), PlacementRequest("w", SMALL), now=NOW, stale_after=STALE_AFTER)
    assert first == again
    assert first.best is not None and first.best.id == "b"


def rejections(*pairs: tuple[str, str]) -> tuple[Rejection, ...]:
    return tuple(Rejection(h, reason) for h, reason in pairs)


@pytest.mark.parametrize(("case", "decision", "summary"), [
    ("empty federation", Decision(()), "no host has joined the federation yet"),
    ("one host that fits", Decision((host("a"),)), "1 host: 1 fit"),
    ("two fit", Decision((host("a"), host("b"))), "2 hosts: 2 fit"),
    ("one rejected", Decision((), rejections(("a", "host_not_reporting"))), "1 host: 1 host_not_reporting"),
    ("reasons counted, most common first",
     Decision((), rejections(("a", "host_not_reporting"), ("b", "insufficient_memory_mib"),
                             ("c", "insufficient_memory_mib"))),
     "3 hosts: 2 insufficient_memory_mib, 1 host_not_reporting"),
    ("fits come first",
     Decision((host("d"),), rejections(("a", "insufficient_vcpus"), ("b", "host_not_reporting"),
                                      ("c", "insufficient_vcpus"))),
     "4 hosts: 1 fit, 2 insufficient_vcpus, 1 host_not_reporting"),
])
def test_decision_summary(case: str, decision: Decision, summary: str) -> None:
    assert decision.summary() == summary


def test_summary_of_a_real_decision() -> None:
    decision = schedule([host("stale", seen_ago=None), host("full", share=0), host("ok")],
                        PlacementRequest("w", SMALL), now=NOW, stale_after=STALE_AFTER)
    assert decision.summary() == "3 hosts: 1 fit, 1 host_not_reporting, 1 insufficient_vcpus"
