"""Workloads as their member drives them: create, read, start, stop, delete."""

from __future__ import annotations

from civicloud.domain import DesiredPower, Residency, UsageSample, Workload, WorkloadState
from civicloud.errors import Conflict, ConcurrentUpdate, NotFound
from civicloud.services._common import new_id, utcnow
from civicloud.services.allocations import release_allocation
from civicloud.services.catalogue import require_offering
from civicloud.services.groups import require_group
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.wire import WorkloadCreate

S = WorkloadState


def create_workload(uow: UnitOfWork, cmd: WorkloadCreate) -> Workload:
    now = utcnow()
    with uow:
        member = require_member(uow, cmd.member_id)
        offering = require_offering(uow, cmd.offering_id)
        if uow.workloads.name_taken(member.id, cmd.name):
            raise Conflict(f"{member.name} already has a workload named {cmd.name!r}; choose another name "
                           "or delete the old one", code="civicloud.workload.name_taken")
        group_id = None
        if cmd.group is not None:
            group = require_group(uow, cmd.group, member.id)
            if group.member_id != member.id:
                raise NotFound.of("placement_group", cmd.group)  # another member's group: not yours to use
            group_id = group.id
        residency = Residency(tuple(cmd.residency.countries), tuple(cmd.residency.regions),
                              tuple(cmd.residency.departments)) if cmd.residency else Residency()
        workload = Workload(new_id(), member.id, offering.id, cmd.name, S.PENDING, DesiredPower.RUNNING, None,
                            "waiting for placement", now, now, offering.service_class, group_id, residency)
        uow.workloads.add(workload)
        uow.commit()
    return workload


def require_workload(uow: UnitOfWork, workload_id: str) -> Workload:
    workload = uow.workloads.get(workload_id)
    if workload is None:
        raise NotFound.of("workload", workload_id)
    return workload


def get_workload(uow: UnitOfWork, workload_id: str) -> Workload:
    with uow:
        return require_workload(uow, workload_id)


def list_workloads(uow: UnitOfWork, *, member: str | None = None, state: WorkloadState | None = None,
                   include_deleted: bool = False, limit: int = 1000, offset: int = 0) -> list[Workload]:
    with uow:
        member_id = require_member(uow, member).id if member is not None else None
        return uow.workloads.list(member_id=member_id, state=state, include_deleted=include_deleted, limit=limit,
                                  offset=offset)


def usage_samples(uow: UnitOfWork, workload_id: str, limit: int = 100) -> list[UsageSample]:
    with uow:
        return uow.usage.for_workload(require_workload(uow, workload_id).id, limit)


def stop_workload(uow: UnitOfWork, workload_id: str) -> Workload:
    with uow:
        w = require_workload(uow, workload_id)
        _refuse_if_deleted(w, "stop")
        if w.desired is DesiredPower.STOPPED:
            return w
        _refuse_if_evicting(w, "stop")
        if w.state is S.PENDING:
            raise Conflict("this workload is not placed yet, so there is nothing to stop; delete it to cancel "
                           "the request", code="civicloud.workload.not_placed")
        state = S.STOPPING if w.state in (S.RUNNING, S.PROVISIONING, S.SCHEDULED) else w.state
        _update(uow, w, state=state, desired=DesiredPower.STOPPED, message="stop requested")
        uow.commit()
        return require_workload(uow, w.id)


def start_workload(uow: UnitOfWork, workload_id: str) -> Workload:
    with uow:
        w = require_workload(uow, workload_id)
        _refuse_if_deleted(w, "start")
        if w.desired is DesiredPower.RUNNING and w.state is not S.FAILED:
            return w
        _refuse_if_evicting(w, "start")
        state = S.PROVISIONING if w.state in (S.STOPPED, S.STOPPING, S.FAILED) and w.host_id else w.state
        _update(uow, w, state=state, desired=DesiredPower.RUNNING, message="start requested")
        uow.commit()
        return require_workload(uow, w.id)


def delete_workload(uow: UnitOfWork, workload_id: str) -> Workload:
    """Ask for a workload's removal. Unplaced ones go at once; placed ones once their agent confirms."""
    with uow:
        w = require_workload(uow, workload_id)
        if w.state is S.DELETED or w.desired is DesiredPower.ABSENT:
            return w  # deleting twice is not an error: the outcome is the same
        now = utcnow()
        if w.host_id is None:
            _update(uow, w, state=S.DELETED, desired=DesiredPower.ABSENT, message="deleted before placement")
            release_allocation(uow, w.id, now)
        else:
            state = S.STOPPING if w.state in (S.RUNNING, S.PROVISIONING, S.SCHEDULED, S.EVICTING) else w.state
            _update(uow, w, state=state, desired=DesiredPower.ABSENT, evict_deadline=None,
                    message="deletion requested; waiting for the site's agent to remove it")
        uow.commit()
        return require_workload(uow, w.id)


def _update(uow: UnitOfWork, w: Workload, **values: object) -> None:
    if not uow.workloads.update(w.id, w.state, now=utcnow(), **values):
        raise ConcurrentUpdate("the workload changed while this request was handled; read it again and retry")


def _refuse_if_deleted(w: Workload, verb: str) -> None:
    if w.state is S.DELETED or w.desired is DesiredPower.ABSENT:
        raise Conflict(f"cannot {verb} a deleted workload; create a new one", code="civicloud.workload.deleted")


def _refuse_if_evicting(w: Workload, verb: str) -> None:
    if w.state is S.EVICTING:
        raise Conflict(f"cannot {verb} a workload while its host's owner takes the host back; it is re-placed "
                       "or stopped by its deadline, then it can be started again", code="civicloud.workload.evicting")
