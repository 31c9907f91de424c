"""The workload state machine, and what an agent's report does to it."""

from __future__ import annotations

import itertools

import pytest

from civicloud.domain import (
    PLACED_STATES,
    DesiredPower,
    WorkloadState,
    can_transition,
    check_transition,
    state_after_report,
)
from civicloud.domain.workloads import TRANSITIONS
from civicloud.errors import Conflict

S = WorkloadState
D = DesiredPower

ALLOWED = [
    (S.PENDING, S.SCHEDULED), (S.PENDING, S.FAILED), (S.PENDING, S.DELETED),
    (S.SCHEDULED, S.PROVISIONING), (S.SCHEDULED, S.RUNNING), (S.SCHEDULED, S.STOPPING),
    (S.SCHEDULED, S.STOPPED), (S.SCHEDULED, S.FAILED), (S.SCHEDULED, S.DELETED),
    (S.PROVISIONING, S.RUNNING), (S.PROVISIONING, S.STOPPING), (S.PROVISIONING, S.STOPPED),
    (S.PROVISIONING, S.FAILED), (S.PROVISIONING, S.DELETED),
    (S.RUNNING, S.STOPPING), (S.RUNNING, S.STOPPED), (S.RUNNING, S.FAILED), (S.RUNNING, S.DELETED),
    (S.STOPPING, S.STOPPED), (S.STOPPING, S.FAILED), (S.STOPPING, S.DELETED),
    # A member may start a workload again before its agent confirmed the stop.
    (S.STOPPING, S.PROVISIONING),
    (S.STOPPED, S.PROVISIONING), (S.STOPPED, S.RUNNING), (S.STOPPED, S.FAILED), (S.STOPPED, S.DELETED),
    (S.FAILED, S.DELETED), (S.FAILED, S.PROVISIONING), (S.FAILED, S.RUNNING), (S.FAILED, S.STOPPING),
    (S.FAILED, S.STOPPED),
    # Any placed state may be evicted when its lender takes the host back…
    (S.SCHEDULED, S.EVICTING), (S.PROVISIONING, S.EVICTING), (S.RUNNING, S.EVICTING), (S.STOPPING, S.EVICTING),
    (S.STOPPED, S.EVICTING), (S.FAILED, S.EVICTING),
    # …then it is re-placed, stopped at its deadline and queued, called off, or deleted by its member.
    (S.EVICTING, S.SCHEDULED), (S.EVICTING, S.PENDING), (S.EVICTING, S.RUNNING), (S.EVICTING, S.STOPPING),
    (S.EVICTING, S.DELETED),
]


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=lambda s: s.value)
def test_allowed_transitions(current: WorkloadState, target: WorkloadState) -> None:
    assert can_transition(current, target)
    check_transition(current, target)


FORBIDDEN = sorted(set(itertools.product(S, S)) - set(ALLOWED) - {(s, s) for s in S})


@pytest.mark.parametrize(("current", "target"), FORBIDDEN, ids=lambda s: s.value)
def test_forbidden_transitions(current: WorkloadState, target: WorkloadState) -> None:
    assert not can_transition(current, target)
    with pytest.raises(Conflict) as info:
        check_transition(current, target)
    assert info.value.code == "civicloud.workload.invalid_transition"


def test_the_table_is_exactly_the_allowed_list() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == set(ALLOWED)


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.value)
def test_staying_put_is_always_allowed(state: WorkloadState) -> None:
    assert can_transition(state, state)


def test_deleted_is_final() -> None:
    assert TRANSITIONS[S.DELETED] == frozenset()


def test_placed_states() -> None:
    assert PLACED_STATES == set(S) - {S.PENDING, S.DELETED}


@pytest.mark.parametrize(("case", "current", "desired", "observed", "expected"), [
    ("started as asked", S.SCHEDULED, D.RUNNING, "running", S.RUNNING),
    ("started after provisioning", S.PROVISIONING, D.RUNNING, "running", S.RUNNING),
    ("defined but not started yet", S.SCHEDULED, D.RUNNING, "stopped", S.PROVISIONING),
    ("still running while its member wants it off", S.RUNNING, D.STOPPED, "running", S.STOPPING),
    ("stopped as asked", S.STOPPING, D.STOPPED, "stopped", S.STOPPED),
    ("still there while deletion is asked", S.STOPPING, D.ABSENT, "running", S.STOPPING),
    ("stopped on its way to deletion", S.STOPPING, D.ABSENT, "stopped", S.STOPPED),
    ("gone as asked", S.STOPPING, D.ABSENT, "absent", S.DELETED),
    ("gone as asked after a stop", S.STOPPED, D.ABSENT, "absent", S.DELETED),
    ("not created yet: nothing to record", S.SCHEDULED, D.RUNNING, "absent", None),
    ("gone though wanted stopped: nothing to record", S.STOPPED, D.STOPPED, "absent", None),
    ("the hypervisor says failed", S.RUNNING, D.RUNNING, "failed", S.FAILED),
    ("failed while stopping", S.STOPPING, D.STOPPED, "failed", S.FAILED),
    ("running again after a failure", S.FAILED, D.RUNNING, "running", S.RUNNING),
    ("a late report about a deleted workload", S.DELETED, D.ABSENT, "running", None),
    ("a late absent about a deleted workload", S.DELETED, D.ABSENT, "absent", None),
    ("an observation the agent should not send", S.RUNNING, D.RUNNING, "paused", None),
    ("evicted, its deadline not come yet", S.EVICTING, D.RUNNING, "running", None),
    ("evicted and stopped at its deadline: queued again", S.EVICTING, D.RUNNING, "stopped", S.PENDING),
    ("evicted and not defined any more: queued again", S.EVICTING, D.RUNNING, "absent", S.PENDING),
    ("evicted and failed: queued again", S.EVICTING, D.RUNNING, "failed", S.PENDING),
    ("evicted, then deleted by its member", S.EVICTING, D.ABSENT, "absent", S.DELETED),
])
def test_state_after_report(case: str, current: WorkloadState, desired: DesiredPower, observed: str,
                            expected: WorkloadState | None) -> None:
    assert state_after_report(current, desired, observed) is expected


# (state, desired) pairs the services can produce: create gives pending/running, placement
# scheduled/running, stop moves the live states to stopping, start moves stopped ones to provisioning,
# delete keeps the state and asks for absent. Reports must keep workloads inside this set.
REACHABLE = {
    D.RUNNING: {S.PENDING, S.SCHEDULED, S.PROVISIONING, S.RUNNING, S.FAILED, S.EVICTING},
    D.STOPPED: {S.STOPPING, S.STOPPED, S.FAILED},
    D.ABSENT: {S.STOPPING, S.STOPPED, S.FAILED, S.DELETED},
}


@pytest.mark.parametrize(("current", "desired", "observed"), [
    (current, desired, observed)
    for desired, states in REACHABLE.items() for current in sorted(states)
    for observed in ("running", "stopped", "absent", "failed")
    if current is not S.PENDING  # only placed workloads are reported on
], ids=str)
def test_reports_follow_the_table_and_stay_reachable(
        current: WorkloadState, desired: DesiredPower, observed: str) -> None:
    target = state_after_report(current, desired, observed)
    if target is None:
        return
    if (current, target) in DRIFT:
        assert not can_transition(current, target)
        return
    assert can_transition(current, target)
    assert target in REACHABLE[desired]


# The hypervisor shows the opposite of a settled state (someone stopped or started the domain by hand):
# the agent puts it back, and the record does not move.
DRIFT = {(S.RUNNING, S.PROVISIONING), (S.STOPPED, S.STOPPING)}
