"""reconcile(desired, actual, hosts) -> actions, as a table of cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civicloud.agent.reconcile import (
    Actual,
    Define,
    Desired,
    Reboot,
    Resize,
    Start,
    Stop,
    Undefine,
    observe,
    reconcile,
)

HOSTS = ["hv1", "hv2"]
RUN = Desired("w1", "web", "hv1", "running")
OFF = Desired("w1", "web", "hv1", "stopped")
GONE = Desired("w1", "web", "hv1", "absent")

CASES = [
    # (case, desired, actual, expected actions in order)
    ("new workload: define then start", [RUN], [], [Define(RUN), Start("w1", "hv1")]),
    ("already running: nothing", [RUN], [Actual("w1", "hv1", "running")], []),
    ("defined but off: start", [RUN], [Actual("w1", "hv1", "stopped")], [Start("w1", "hv1")]),
    ("wanted stopped, running: stop", [OFF], [Actual("w1", "hv1", "running")], [Stop("w1", "hv1")]),
    ("wanted stopped, missing: define only", [OFF], [], [Define(OFF)]),
    ("wanted stopped, stopped: nothing", [OFF], [Actual("w1", "hv1", "stopped")], []),
    ("deleted while running: stop then undefine", [GONE], [Actual("w1", "hv1", "running")],
     [Stop("w1", "hv1"), Undefine("w1", "hv1")]),
    ("deleted while stopped: undefine", [GONE], [Actual("w1", "hv1", "stopped")], [Undefine("w1", "hv1")]),
    ("deleted and gone: nothing", [GONE], [], []),
    ("orphan domain unknown to the control plane: removed", [], [Actual("zz", "hv2", "running")],
     [Stop("zz", "hv2"), Undefine("zz", "hv2")]),
    ("on the wrong host: removed there, created on the right one", [RUN], [Actual("w1", "hv2", "running")],
     [Stop("w1", "hv2"), Undefine("w1", "hv2"), Define(RUN), Start("w1", "hv1")]),
    ("duplicate on another host: the extra goes, the right one stays",
     [RUN], [Actual("w1", "hv1", "running"), Actual("w1", "hv2", "stopped")], [Undefine("w1", "hv2")]),
    ("host this agent does not drive: left alone", [Desired("w1", "web", "hv9", "running")], [], []),
    # The host was renamed on the agent's command line: its running guest must survive.
    ("renamed host keeps its guests", [Desired("w1", "web", "drancy-hv1", "running")],
     [Actual("w1", "hv1", "running")], []),
    ("nothing anywhere", [], [], []),
    # Resized by its member while stopped: the domain gets its new size before it starts again.
    ("resized, wanted running: resize then start", [RUN], [Actual("w1", "hv1", "stopped", (2, 1024, 0))],
     [Resize(RUN), Start("w1", "hv1")]),
    ("resized, wanted stopped: resize only", [OFF], [Actual("w1", "hv1", "stopped", (2, 1024, 0))], [Resize(OFF)]),
    ("resized while running: keeps its size until stopped", [RUN], [Actual("w1", "hv1", "running", (2, 1024, 0))],
     []),
    ("same size: nothing", [OFF], [Actual("w1", "hv1", "stopped", (1, 512, 0))], []),
    ("size unknown (defined by an older agent): nothing", [OFF], [Actual("w1", "hv1", "stopped", None)], []),
]


@pytest.mark.parametrize(("case", "desired", "actual", "expected"), CASES, ids=[c[0] for c in CASES])
def test_reconcile(case: str, desired: list[Desired], actual: list[Actual], expected: list[object]) -> None:
    assert reconcile(desired, actual, HOSTS) == expected


def test_removals_come_before_creations_across_workloads() -> None:
    a = Desired("a", "a", "hv1", "running")
    actions = reconcile([a], [Actual("b", "hv1", "running")], HOSTS)
    assert actions == [Stop("b", "hv1"), Undefine("b", "hv1"), Define(a), Start("a", "hv1")]


def test_reconcile_is_idempotent_once_applied() -> None:
    """Applying the actions and reconciling again yields nothing more to do."""
    desired = [RUN, Desired("w2", "db", "hv2", "stopped"), Desired("w3", "old", "hv1", "absent")]
    actual = [Actual("w2", "hv2", "running"), Actual("w3", "hv1", "running"), Actual("w9", "hv2", "stopped")]
    state = {(a.workload_id, a.host): a.power for a in actual}
    for act in reconcile(desired, actual, HOSTS):
        if isinstance(act, Define):
            state[(act.workload_id, act.host)] = "stopped"
        elif isinstance(act, Start):
            state[(act.workload_id, act.host)] = "running"
        elif isinstance(act, Stop):
            state[(act.workload_id, act.host)] = "stopped"
        elif isinstance(act, Undefine):
            del state[(act.workload_id, act.host)]
    after = [Actual(w, h, p) for (w, h), p in state.items()]  # type: ignore[arg-type]
    assert reconcile(desired, after, HOSTS) == []
    assert sorted(state) == [("w1", "hv1"), ("w2", "hv2")]


@pytest.mark.parametrize(("desired", "actual", "failures", "expected"), [
    ([RUN], [Actual("w1", "hv1", "running")], {}, [("w1", "running")]),
    ([Desired("w1", "web", "hv9", "absent")], [], {}, []),  # another agent's host: not ours to confirm
    ([RUN], [Actual("w1", "hv2", "running")], {}, [("w1", "absent")]),  # not on its own host
    ([OFF], [Actual("w1", "hv1", "stopped")], {}, [("w1", "stopped")]),
    ([GONE], [], {}, [("w1", "absent")]),
    ([RUN], [], {"w1": "boom"}, [("w1", "failed")]),
])
def test_observe(desired: list[Desired], actual: list[Actual], failures: dict[str, str],
                 expected: list[tuple[str, str]]) -> None:
    assert [(w, o) for w, o, _ in observe(desired, actual, failures, HOSTS)] == expected


EVICTED = Desired("w1", "web", "hv1", "running", stop_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
BEFORE, AFTER = datetime(2026, 12, 1, 9, 59, 59, tzinfo=UTC), datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("case", "actual", "now", "expected"), [
    ("evicted, before its deadline: keeps running", [Actual("w1", "hv1", "running")], BEFORE, []),
    ("evicted, at its deadline: stopped", [Actual("w1", "hv1", "running")], AFTER, [Stop("w1", "hv1")]),
    ("evicted, stopped after its deadline: not started again", [Actual("w1", "hv1", "stopped")], AFTER, []),
    ("evicted, gone after its deadline: not re-created", [], AFTER, []),
    ("evicted, missing before its deadline: created (it may still be needed)", [], BEFORE,
     [Define(EVICTED), Start("w1", "hv1")]),
])
def test_eviction_deadline(case: str, actual: list[Actual], now: datetime, expected: list[object]) -> None:
    assert reconcile([EVICTED], actual, HOSTS, now) == expected


ASKED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
REBOOT = Desired("w1", "web", "hv1", "running", reboot_after=ASKED)


@pytest.mark.parametrize(("case", "actual", "rebooted", "expected"), [
    ("asked, running, not done yet: power-cycled", [Actual("w1", "hv1", "running")], {}, [Reboot("w1", "hv1")]),
    ("asked again after an earlier reboot", [Actual("w1", "hv1", "running")],
     {"w1": datetime(2026, 11, 30, tzinfo=UTC)}, [Reboot("w1", "hv1")]),
    ("already done: once only", [Actual("w1", "hv1", "running")], {"w1": ASKED}, []),
    ("stopped: started, which is a fresh boot", [Actual("w1", "hv1", "stopped")], {}, [Start("w1", "hv1")]),
])
def test_reboot(case: str, actual: list[Actual], rebooted: dict[str, datetime], expected: list[object]) -> None:
    assert reconcile([REBOOT], actual, HOSTS, ASKED, rebooted) == expected
