"""Workloads as their member drives them: create, read, start, stop, reboot, resize, delete."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from civicloud.domain import (
    Allocation,
    DesiredPower,
    Member,
    Offering,
    Residency,
    UsageSample,
    Workload,
    WorkloadState,
)
from civicloud.domain.events import ROOM_CHANGED
from civicloud.domain.members import agreements_in_force, quota_breach
from civicloud.errors import ConcurrentUpdate, Conflict, NotFound
from civicloud.scheduler.planning import plan_resize
from civicloud.services.access import Caller, operation, own_member, require_own
from civicloud.services.allocations import release_allocation
from civicloud.services.catalogue import require_offering
from civicloud.services.groups import require_group
from civicloud.services.members import require_member
from civicloud.services.networks import attach_ports, release_ports
from civicloud.services.placement import PlacementSettings
from civicloud.store import UnitOfWork
from civicloud.wire import WorkloadCreate

S = WorkloadState


@operation("workloads.create")
def create_workload(uow: UnitOfWork, caller: Caller, cmd: WorkloadCreate) -> Workload:
    now = uow.clock()
    with uow:
        member = require_member(uow, cmd.member_id)
        require_own(caller, member.id, cmd.member_id)
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
        _check_quota(uow, member, offering, now)
        residency = Residency(tuple(cmd.residency.countries), tuple(cmd.residency.regions),
                              tuple(cmd.residency.departments)) if cmd.residency else Residency()
        workload = Workload(uow.new_id(), member.id, offering.id, cmd.name, S.PENDING, DesiredPower.RUNNING, None,
                            "waiting for placement", now, now, offering.service_class, group_id, residency)
        uow.workloads.add(workload)
        attach_ports(uow, member, workload.id, cmd.networks, now)
        uow.signal(ROOM_CHANGED)  # a new request for the control loop to place
        uow.commit()
    return workload


def _check_quota(uow: UnitOfWork, member: Member, offering: Offering, now: datetime) -> None:
    """Refuse a request its member's agreement has no room for: what its live workloads of the class ask for
    (pending ones too, so a burst cannot slip past), plus this one, must stay within each limit."""
    agreement = agreements_in_force(uow.agreements.for_member(member.id), now.date()).get(member.id)
    if agreement is None:
        return
    cls = offering.service_class.value
    quota = agreement.quotas.get(cls)
    if quota is None:
        return
    used, count = uow.workloads.live_demand(member.id, cls)  # request time: pending requests count
    breach = quota_breach(quota, cls, used, count, offering.resources)
    if breach is None:
        return
    name = breach.field.split(".")[1]
    if name == "workloads":
        raise Conflict(f"{member.name}'s {cls} quota workloads is {breach.limit}; it has {breach.used} live: delete "
                       "one or ask the operator for a larger agreement", code="civicloud.quota.exceeded",
                       field=f"quota.{breach.field}")
    raise Conflict(f"{member.name}'s {cls} quota {name} is {breach.limit} {breach.unit}; its live workloads use "
                   f"{breach.used} and {offering.name} needs {breach.need}: "
                   "delete one, choose a smaller offering, or ask the operator for a larger agreement",
                   code="civicloud.quota.exceeded", field=f"quota.{breach.field}")


def require_workload(uow: UnitOfWork, workload_id: str) -> Workload:
    workload = uow.workloads.get(workload_id)
    if workload is None:
        raise NotFound.of("workload", workload_id)
    return workload


@operation("workloads.get")
def get_workload(uow: UnitOfWork, caller: Caller, workload_id: str) -> Workload:
    with uow:
        return require_workload(uow, workload_id)


@operation("workloads.list")
def list_workloads(uow: UnitOfWork, caller: Caller, *, member: str | None = None,
                   state: WorkloadState | None = None, include_deleted: bool = False, limit: int = 1000,
                   offset: int = 0) -> list[Workload]:
    """The workloads the caller may see (its member's only, for a member's staff), of ``member`` if given."""
    member = own_member(uow, caller, member)
    with uow:
        member_id = require_member(uow, member).id if member is not None else None
        return uow.workloads.list(member_id=member_id, state=state, include_deleted=include_deleted, limit=limit,
                                  offset=offset)


@dataclass(frozen=True)
class Whereabouts:
    """Where a placed workload runs, as its borrower may know it: the lending member and its site. The host
    itself (its id and name) is the lender's business: the API shows it to the lender and the operator only."""

    host_id: str
    site_id: str
    site_name: str
    lender_id: str
    lender_name: str


def whereabouts(uow: UnitOfWork, host_ids: Iterable[str | None]) -> dict[str, Whereabouts]:
    """The whereabouts of each of these hosts (unknown ones left out)."""
    out: dict[str, Whereabouts] = {}
    placed = {h for h in host_ids if h}
    if not placed:  # none placed: nothing to read
        return out
    with uow:
        for host_id, site_id, site_name, lender_id, lender_name in uow.hosts.whereabouts(sorted(placed)):
            out[host_id] = Whereabouts(host_id, site_id, site_name, lender_id, lender_name)
    return out


@operation("workloads.samples")
def usage_samples(uow: UnitOfWork, caller: Caller, workload_id: str, limit: int = 100) -> list[UsageSample]:
    with uow:
        return uow.usage.for_workload(require_workload(uow, workload_id).id, limit)


@operation("workloads.stop")
def stop_workload(uow: UnitOfWork, caller: Caller, workload_id: str) -> Workload:
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


@operation("workloads.reboot")
def reboot_workload(uow: UnitOfWork, caller: Caller, workload_id: str) -> Workload:
    """Ask for a power cycle of a running workload: its agent shuts it down (ACPI, then power-off after the
    timeout) and starts it again, once."""
    with uow:
        w = require_workload(uow, workload_id)
        _refuse_if_deleted(w, "reboot")
        _refuse_if_evicting(w, "reboot")
        if w.state is not S.RUNNING or w.desired is not DesiredPower.RUNNING:
            raise Conflict(f"only a running workload is rebooted, and this one is {w.state.value}; start it "
                           "instead", code="civicloud.workload.not_running")
        now = uow.clock()
        _update(uow, w, reboot_requested_at=now, message=f"reboot requested at {now:%H:%M:%S} UTC")
        uow.commit()
        return require_workload(uow, w.id)


@operation("workloads.start")
def start_workload(uow: UnitOfWork, caller: Caller, workload_id: str) -> Workload:
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


@operation("workloads.delete")
def delete_workload(uow: UnitOfWork, caller: Caller, workload_id: str) -> Workload:
    """Ask for a workload's removal. Unplaced ones go at once; placed ones once their agent confirms."""
    with uow:
        w = require_workload(uow, workload_id)
        if w.state is S.DELETED or w.desired is DesiredPower.ABSENT:
            return w  # deleting twice is not an error: the outcome is the same
        now = uow.clock()
        if w.host_id is None:
            _update(uow, w, state=S.DELETED, desired=DesiredPower.ABSENT, message="deleted before placement")
            release_allocation(uow, w.id, now)
            release_ports(uow, w.id, now)
        else:
            state = S.STOPPING if w.state in (S.RUNNING, S.PROVISIONING, S.SCHEDULED, S.EVICTING) else w.state
            _update(uow, w, state=state, desired=DesiredPower.ABSENT, evict_deadline=None,
                    message="deletion requested; waiting for the site's agent to remove it")
        uow.commit()
        return require_workload(uow, w.id)


def _update(uow: UnitOfWork, w: Workload, **values: object) -> None:
    if not uow.workloads.update(w.id, w.state, now=uow.clock(), **values):
        raise ConcurrentUpdate("the workload changed while this request was handled; read it again and retry")


def _refuse_if_deleted(w: Workload, verb: str) -> None:
    if w.state is S.DELETED or w.desired is DesiredPower.ABSENT:
        raise Conflict(f"cannot {verb} a deleted workload; create a new one", code="civicloud.workload.deleted")


def _refuse_if_evicting(w: Workload, verb: str) -> None:
    if w.state is S.EVICTING:
        raise Conflict(f"cannot {verb} a workload while its host's owner takes the host back; it is re-placed "
                       "or stopped by its deadline, then it can be started again", code="civicloud.workload.evicting")


@operation("workloads.resize")
def resize_workload(uow: UnitOfWork, caller: Caller, workload_id: str, offering_ref: str,
                    settings: PlacementSettings) -> Workload:
    """Give a stopped workload another offering of its class, on the host it is on.

    The new size must pass every placement filter on that host, with the workload's own allocation
    counted as free: the same rules as a new placement, so a resize never takes the owner's room or
    another borrower's. Its allocation is swapped in one transaction (the host's generation compared,
    as for a claim). Moving it to another host to find room is not done here: stop, delete and
    re-create it, or wait for room. The agent resizes the domain before its next start."""
    with uow:
        w = require_workload(uow, workload_id)
        _refuse_if_deleted(w, "resize")
        new = require_offering(uow, offering_ref)
        if new.id == w.offering_id:
            return w
        old = require_offering(uow, w.offering_id)
        if w.state is not S.STOPPED or w.desired is not DesiredPower.STOPPED:
            raise Conflict(f"a workload is resized when stopped, and this one is {w.state.value}; stop it, wait "
                           "for 'stopped', then resize", code="civicloud.workload.not_stopped")
        if new.service_class is not old.service_class:
            raise Conflict(f"{new.name} is {new.service_class.value} and this workload is "
                           f"{old.service_class.value}; a resize keeps the class: create a new workload instead",
                           code="civicloud.workload.class_change", field="offering_id")
        if new.resources.disk_gib < old.resources.disk_gib:
            raise Conflict(f"{new.name} has a smaller disk ({new.resources.disk_gib} GiB) than {old.name} "
                           f"({old.resources.disk_gib} GiB); a disk only grows", code="civicloud.workload.disk_shrink",
                           field="offering_id")
        assert w.host_id is not None  # stopped: placed
        ctx = settings.context(uow, uow.clock())
        plan = plan_resize(ctx, w, old, new, settings.profiles)
        host_id = plan.host_id
        if plan.refusal is not None:
            raise Conflict(f"its host at {ctx.snapshot.site_name(ctx.snapshot.index_of[host_id])} cannot take "
                           f"{new.name}: {plan.refusal}; choose a smaller offering, or re-create the "
                           "workload to have it placed elsewhere", code="civicloud.workload.resize_no_room",
                           field="offering_id")
        now = uow.clock()
        if not uow.hosts.claim(host_id, plan.seen_generation, new.resources, w.service_class):
            raise ConcurrentUpdate("the host changed while this resize was decided; retry")
        release_allocation(uow, w.id, now)
        uow.allocations.add(Allocation(uow.new_id(), w.id, host_id, new.resources, now, None, w.service_class))
        _update(uow, w, offering_id=new.id, message=f"resized from {old.name} to {new.name}; it starts with the "
                                                     "new size")
        uow.commit()
        return require_workload(uow, w.id)
