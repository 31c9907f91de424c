"""Workloads and their state machine.

A workload has an observed ``state`` (what the platform knows happened) and a
``desired`` power state (what its member asked for). The control plane moves
``state`` only along the transitions below; the agent reports what it sees.

    pending ──► scheduled ──► provisioning ──► running ──► stopping ──► stopped
       │            │               │             │                      │  ▲
       │            └───────────────┴─────────────┴──► failed            │  │ start
       └──► deleted ◄─────────────── (agent confirms the domain is gone) ◄┘──┘
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from civicloud.domain.capacity import Resources
from civicloud.domain.catalogue import Residency, ServiceClass
from civicloud.errors import Conflict


class WorkloadState(str, Enum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETED = "deleted"
    FAILED = "failed"


class DesiredPower(str, Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    ABSENT = "absent"  # deleted by its member: the agent removes the domain


S = WorkloadState
TRANSITIONS: dict[WorkloadState, frozenset[WorkloadState]] = {
    S.PENDING: frozenset({S.SCHEDULED, S.FAILED, S.DELETED}),
    S.SCHEDULED: frozenset({S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED, S.DELETED}),
    S.PROVISIONING: frozenset({S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED, S.DELETED}),
    S.RUNNING: frozenset({S.STOPPING, S.STOPPED, S.FAILED, S.DELETED}),
    # → provisioning: its member started it again before the agent confirmed the stop.
    S.STOPPING: frozenset({S.STOPPED, S.PROVISIONING, S.FAILED, S.DELETED}),
    S.STOPPED: frozenset({S.PROVISIONING, S.RUNNING, S.FAILED, S.DELETED}),
    S.FAILED: frozenset({S.DELETED, S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED}),
    S.DELETED: frozenset(),
}
# States in which a workload holds (or is about to hold) an allocation on a host.
PLACED_STATES = frozenset({S.SCHEDULED, S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED})


def can_transition(current: WorkloadState, target: WorkloadState) -> bool:
    return current == target or target in TRANSITIONS[current]


def check_transition(current: WorkloadState, target: WorkloadState) -> None:
    if not can_transition(current, target):
        raise Conflict(f"a workload cannot go from {current.value} to {target.value}",
                       code="civicloud.workload.invalid_transition")


@dataclass(frozen=True)
class Allocation:
    id: str
    workload_id: str
    host_id: str
    resources: Resources
    created_at: datetime
    released_at: datetime | None = None
    service_class: ServiceClass = ServiceClass.HARVEST


@dataclass(frozen=True)
class PlacementExplanation:
    """The last placement decision about a workload, as people read it."""

    summary: str
    reasons: tuple[tuple[str, str, str, int], ...]  # (filter, code, text, hosts)
    decided_at: datetime


@dataclass(frozen=True)
class Workload:
    id: str
    member_id: str
    offering_id: str
    name: str
    state: WorkloadState
    desired: DesiredPower
    host_id: str | None
    message: str
    created_at: datetime
    updated_at: datetime
    service_class: ServiceClass = ServiceClass.HARVEST
    group_id: str | None = None
    residency: Residency = field(default_factory=Residency)
    placement: PlacementExplanation | None = None

    @property
    def is_deleted(self) -> bool:
        return self.state is WorkloadState.DELETED


def state_after_report(current: WorkloadState, desired: DesiredPower, observed: str) -> WorkloadState | None:
    """The state a workload moves to when its agent reports ``observed``.

    ``observed`` is what the hypervisor shows: running, stopped, absent or
    failed. Returns None when the report changes nothing (e.g. an agent late
    with a report about a state the workload already left).
    """
    if current is S.DELETED:
        return None
    if observed == "absent":
        if desired is DesiredPower.ABSENT:
            return S.DELETED
        return None  # not created yet, or being re-created: nothing to record
    if observed == "failed":
        return S.FAILED
    if observed == "running":
        if desired is DesiredPower.RUNNING:
            return S.RUNNING
        return S.STOPPING  # still running while the member wants it off: on its way down
    if observed == "stopped":
        if desired is DesiredPower.RUNNING:
            return S.PROVISIONING  # defined, not yet started
        return S.STOPPED
    return None
