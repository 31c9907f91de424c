"""Workloads as their members drive them (/api/v1/workloads)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status

from civicloud.api import views
from civicloud.api.deps import AppSettings, Caller, Uow, Uows, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.domain import Workload, WorkloadState
from civicloud.domain.identity import Principal
from civicloud.services import (
    access,
    workloads,
)
from civicloud.services.placement import PlacementSettings
from civicloud.wire import (
    UsageSampleOut,
    WorkloadCreate,
    WorkloadOut,
    WorkloadResize,
)
from civicloud.wire.common import Ref

router = APIRouter(dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/workloads", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def create_workload(body: WorkloadCreate, uow: Uow, uows: Uows, principal: Caller) -> WorkloadOut:
    access.require_own_member(uows(), principal, body.member_id)
    workload = workloads.create_workload(uow, body)
    return _workload_out(uow, principal, workload)


@router.get("/workloads", tags=["workloads"])
def list_workloads(uow: Uow, principal: Caller, uows: Uows, member_id: Ref | None = None,
                   state: WorkloadState | None = None,
                   include_deleted: bool = Query(default=False),
                   limit: int = Query(default=1000, ge=1, le=1000, description="at most this many, oldest first"),
                   offset: int = Query(default=0, ge=0, le=10_000_000, description="skip this many first")
                   ) -> list[WorkloadOut]:
    member_id = access.own_member(uows(), principal, member_id)
    found = workloads.list_workloads(uow, member=member_id, state=state, include_deleted=include_deleted,
                                     limit=limit, offset=offset)
    where = workloads.whereabouts(uow, (w.host_id for w in found))
    return [views.workload_out(w, where.get(w.host_id or ""), principal) for w in found]


def _workload_out(uow: Uow, principal: Principal, w: Workload) -> WorkloadOut:
    return views.workload_out(w, workloads.whereabouts(uow, [w.host_id]).get(w.host_id or ""), principal)


@router.get("/workloads/{workload_id}", tags=["workloads"])
def get_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.get_workload(uow, workload_id))


@router.delete("/workloads/{workload_id}", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def delete_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.delete_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/start", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def start_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.start_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/stop", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def stop_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    return _workload_out(uow, principal, workloads.stop_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/reboot", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def reboot_workload(workload_id: Ref, uow: Uow, principal: Caller) -> WorkloadOut:
    """Power-cycle a running workload once (graceful shutdown, power-off after the agent's timeout, start)."""
    return _workload_out(uow, principal, workloads.reboot_workload(uow, workload_id))


@router.post("/workloads/{workload_id}/resize", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def resize_workload(workload_id: Ref, body: WorkloadResize, uow: Uow, settings: AppSettings,
                    principal: Caller) -> WorkloadOut:
    """Another offering of the same class for a stopped workload, on its host; the agent resizes the domain."""
    resized = workloads.resize_workload(uow, workload_id, body.offering_id, PlacementSettings.of(settings))
    return _workload_out(uow, principal, resized)


@router.get("/workloads/{workload_id}/samples", tags=["workloads"])
def workload_samples(workload_id: Ref, uow: Uow,
                     limit: int = Query(default=100, ge=1, le=1000, description="at most this many, newest first")
                     ) -> list[UsageSampleOut]:
    """What the workload's host measured of it (CPU time, memory, disk and network counters)."""
    return [views.sample_out(s) for s in workloads.usage_samples(uow, workload_id, limit)]
