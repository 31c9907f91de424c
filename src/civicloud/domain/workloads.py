"""Workloads and their state machine.

A workload has an observed ``state`` (what the platform knows happened) and a
``desired`` power state (what its member asked for). The control plane moves
``state`` only along the transitions below; the agent reports what it sees.

    pending ──► scheduled ──► provisioning ──► running ──► stopping ──► stopped
       │            │               │             │                      │  ▲
       │            └───────────────┴─────────────┴──► failed            │  │ start
       └──► deleted ◄─────────────── (agent confirms the domain is gone) ◄┘──┘

A harvest workload whose lender takes its host back goes ``evicting`` with a
deadline (now + the offer's notice). From there it is re-placed elsewhere
(``scheduled`` on another host: a fresh start), or stopped by its agent at the
deadline and queued again (``pending``), or — if the owner's need went away
before the deadline — left running (``running``). Guaranteed workloads are
never evicted.
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
    EVICTING = "evicting"  # its lender reclaims the host: stops at the deadline unless re-placed first


class DesiredPower(str, Enum):
    RUNNING = "running"
    STOPPED = "stopped"
    ABSENT = "absent"  # deleted by its member: the agent removes the domain


S = WorkloadState
TRANSITIONS: dict[WorkloadState, frozenset[WorkloadState]] = {
    S.PENDING: frozenset({S.SCHEDULED, S.FAILED, S.DELETED}),
    S.SCHEDULED: frozenset({S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED, S.DELETED, S.EVICTING}),
    S.PROVISIONING: frozenset({S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED, S.DELETED, S.EVICTING}),
    S.RUNNING: frozenset({S.STOPPING, S.STOPPED, S.FAILED, S.DELETED, S.EVICTING}),
    # → provisioning: its member started it again before the agent confirmed the stop.
    S.STOPPING: frozenset({S.STOPPED, S.PROVISIONING, S.FAILED, S.DELETED, S.EVICTING}),
    S.STOPPED: frozenset({S.PROVISIONING, S.RUNNING, S.FAILED, S.DELETED, S.EVICTING}),
    S.FAILED: frozenset({S.DELETED, S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED, S.EVICTING}),
    # → scheduled: re-placed on another host; → pending: stopped at the deadline, queued again;
    # → running: the owner no longer needs the room; → stopping: its member deleted it meanwhile.
    S.EVICTING: frozenset({S.SCHEDULED, S.PENDING, S.RUNNING, S.STOPPING, S.DELETED}),
    S.DELETED: frozenset(),
}
# States in which a workload holds (or is about to hold) an allocation on a host.
PLACED_STATES = frozenset({S.SCHEDULED, S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED, S.FAILED, S.EVICTING})


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
    evict_deadline: datetime | None = None  # set while evicting: when its agent stops it
    reboot_requested_at: datetime | None = None  # the last reboot asked for

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
    if current is S.EVICTING:
        # Still up: the deadline has not come. Down or gone: the eviction is over, the workload waits for
        # room elsewhere (the service releases its allocation) — unless its member deleted it meanwhile.
        if observed == "running":
            return None
        if observed == "absent" and desired is DesiredPower.ABSENT:
            return S.DELETED
        return S.PENDING
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
