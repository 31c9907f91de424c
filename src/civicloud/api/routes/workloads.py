"""Workloads as their members drive them (/api/v1/workloads)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status

from civicloud.api import views
from civicloud.api.deps import AppSettings, Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.domain import Workload, WorkloadState
from civicloud.services import networks, workloads
from civicloud.services.access import Grant
from civicloud.services.placement import PlacementSettings
from civicloud.wire import (
    UsageSampleOut,
    WorkloadCreate,
    WorkloadOut,
    WorkloadResize,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/workloads", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def create_workload(body: WorkloadCreate, uow: Uow, grant: Granted) -> WorkloadOut:
    return _workload_out(uow, grant, workloads.create_workload(uow, grant, body))


@router.get("/workloads", tags=["workloads"])
def list_workloads(uow: Uow, grant: Granted, member_id: Ref | None = None,
                   state: WorkloadState | None = None,
                   include_deleted: bool = Query(default=False),
                   limit: int = Query(default=1000, ge=1, le=1000, description="at most this many, oldest first"),
                   offset: int = Query(default=0, ge=0, le=10_000_000, description="skip this many first")
                   ) -> list[WorkloadOut]:
    found = workloads.list_workloads(uow, grant, member=member_id, state=state, include_deleted=include_deleted,
                                     limit=limit, offset=offset)
    where = workloads.whereabouts(uow, (w.host_id for w in found))
    nics = networks.ports_of(uow, [w.id for w in found])
    return [views.workload_out(w, where.get(w.host_id or ""), grant.principal, nics[w.id]) for w in found]


def _workload_out(uow: Uow, grant: Grant, w: Workload) -> WorkloadOut:
    return views.workload_out(w, workloads.whereabouts(uow, [w.host_id]).get(w.host_id or ""), grant.principal,
                              networks.ports_of(uow, [w.id])[w.id])


@router.get("/workloads/{workload_id}", tags=["workloads"])
def get_workload(workload_id: Ref, uow: Uow, grant: Granted) -> WorkloadOut:
    return _workload_out(uow, grant, workloads.get_workload(uow, grant, workload_id))


@router.delete("/workloads/{workload_id}", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def delete_workload(workload_id: Ref, uow: Uow, grant: Granted) -> WorkloadOut:
    return _workload_out(uow, grant, workloads.delete_workload(uow, grant, workload_id))


@router.post("/workloads/{workload_id}/start", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def start_workload(workload_id: Ref, uow: Uow, grant: Granted) -> WorkloadOut:
    return _workload_out(uow, grant, workloads.start_workload(uow, grant, workload_id))


@router.post("/workloads/{workload_id}/stop", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def stop_workload(workload_id: Ref, uow: Uow, grant: Granted) -> WorkloadOut:
    return _workload_out(uow, grant, workloads.stop_workload(uow, grant, workload_id))


@router.post("/workloads/{workload_id}/reboot", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def reboot_workload(workload_id: Ref, uow: Uow, grant: Granted) -> WorkloadOut:
    """Power-cycle a running workload once (graceful shutdown, power-off after the agent's timeout, start)."""
    return _workload_out(uow, grant, workloads.reboot_workload(uow, grant, workload_id))


@router.post("/workloads/{workload_id}/resize", status_code=status.HTTP_202_ACCEPTED, tags=["workloads"])
def resize_workload(workload_id: Ref, body: WorkloadResize, uow: Uow, settings: AppSettings,
                    grant: Granted) -> WorkloadOut:
    """Another offering of the same class for a stopped workload, on its host; the agent resizes the domain."""
    resized = workloads.resize_workload(uow, grant, workload_id, body.offering_id, PlacementSettings.of(settings))
    return _workload_out(uow, grant, resized)


@router.get("/workloads/{workload_id}/samples", tags=["workloads"])
def workload_samples(workload_id: Ref, uow: Uow, grant: Granted,
                     limit: int = Query(default=100, ge=1, le=1000, description="at most this many, newest first")
                     ) -> list[UsageSampleOut]:
    """What the workload's host measured of it (CPU time, memory, disk and network counters)."""
    return [views.sample_out(s) for s in workloads.usage_samples(uow, grant, workload_id, limit)]
