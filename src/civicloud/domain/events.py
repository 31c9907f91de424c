"""What the control plane does by itself, as domain events. Pure.

An API request is audited as the request it is (``api.middleware.RequestTransaction``). The changes nobody
asked for over HTTP — a placement decided by the control loop, an eviction when a lender takes its host back,
an eviction called off, a re-placement, an allocation given back when an agent reports a guest gone — are
emitted by the services as events on their unit of work; when it commits, each becomes an entry of the audit
log **in the same transaction** as the change (``store.uow.SqlUnitOfWork.commit``), so none is ever lost or
written for a change that was rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from civicloud.domain.audit import AuditEntry

CONTROL_PLANE = "control-plane"  # the source of entries written by the control plane itself
DONE = 200  # the outcome of a change the control plane made (requests carry the HTTP status they answered)


@dataclass(frozen=True)
class DomainEvent:
    action: str  # "reclaim.evict": area.verb
    target: str  # the ids it concerns, "workload=…,host=…"
    member_id: str | None  # on whose behalf: the borrower whose workload it is
    actor: str  # "system:placement", "system:reclaim", "site:<id>" for an agent's report
    role: str = "system"

    def entry(self, at: datetime) -> AuditEntry:
        """The audit entry of this event at ``at``, to be chained after the log's head."""
        return AuditEntry(0, at, self.actor, self.member_id, self.role, self.action, self.target, DONE,
                          CONTROL_PLANE)


# What a unit of work may signal when it commits (``uow.signal``), for whoever listens (the control loop).
ROOM_CHANGED = "room_changed"  # a pending workload may fit now: a new request, room freed, more lent, a host back

PLACER = "system:placement"
RECLAIMER = "system:reclaim"


def placed(workload_id: str, member_id: str, host_id: str) -> DomainEvent:
    return DomainEvent("placement.place", f"workload={workload_id},host={host_id}", member_id, PLACER)


def evicted(workload_id: str, member_id: str, host_id: str, deadline: datetime) -> DomainEvent:
    return DomainEvent("reclaim.evict", f"workload={workload_id},host={host_id},deadline={deadline.isoformat()}",
                       member_id, RECLAIMER)


def eviction_called_off(workload_id: str, member_id: str, host_id: str) -> DomainEvent:
    return DomainEvent("reclaim.call_off", f"workload={workload_id},host={host_id}", member_id, RECLAIMER)


def replaced(workload_id: str, member_id: str, from_host: str, to_host: str) -> DomainEvent:
    return DomainEvent("reclaim.replace", f"workload={workload_id},from={from_host},host={to_host}", member_id,
                       RECLAIMER)


def released(workload_id: str, member_id: str, host_id: str, why: str, site_id: str) -> DomainEvent:
    """An allocation given back on an agent's report: ``why`` is ``stopped_at_deadline`` or ``removed``."""
    return DomainEvent("allocation.release", f"workload={workload_id},host={host_id},why={why}", member_id,
                       f"site:{site_id}", "agent")
