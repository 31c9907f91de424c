"""The agent channel, /api/v1/agent: authenticated by the site credential, not the operator token."""

from __future__ import annotations

from fastapi import APIRouter, Request

from civicloud.api.deps import SiteId, Uow
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.services import agents
from civicloud.wire import (
    DesiredState,
    Heartbeat,
    HeartbeatResponse,
    JoinRequest,
    JoinResponse,
    RegisteredHost,
    Report,
    ReportResponse,
    UsageAck,
    UsageBatch,
)

router = APIRouter(route_class=LeanRoute, prefix="/agent", tags=["agent"], responses=ERROR_RESPONSES)


@router.post("/join")
def join(body: JoinRequest, uow: Uow, request: Request) -> JoinResponse:
    """Trade a one-time join token for the site's credential. Never replayed: an ``Idempotency-Key`` is ignored
    here, and a second try with the same token is refused (the credential is shown once)."""
    site_id, credential = agents.join(uow, body)
    request.state.actor, request.state.role = f"site:{site_id}", "site_agent"
    return JoinResponse(site_id=site_id, credential=credential)


@router.post("/heartbeat")
def heartbeat(body: Heartbeat, uow: Uow, site_id: SiteId) -> HeartbeatResponse:
    hosts = agents.heartbeat(uow, site_id, body)
    return HeartbeatResponse(site_id=site_id, hosts=[RegisteredHost(id=i, name=n) for i, n in hosts])


@router.get("/desired")
def desired(uow: Uow, site_id: SiteId) -> DesiredState:
    return agents.desired_state(uow, site_id)


@router.post("/report")
def report(body: Report, uow: Uow, site_id: SiteId) -> ReportResponse:
    accepted, ignored = agents.report(uow, site_id, body)
    return ReportResponse(accepted=accepted, ignored=ignored)


@router.post("/usage")
def usage(body: UsageBatch, uow: Uow, site_id: SiteId) -> UsageAck:
    """Usage samples, batched. Idempotent: a sample id already stored is acknowledged, not stored again."""
    return agents.ingest_usage(uow, site_id, body)
