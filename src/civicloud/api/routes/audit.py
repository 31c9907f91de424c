"""The audit log and its verification (/api/v1/audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from civicloud.api.deps import Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.services import (
    audit,
)
from civicloud.wire import (
    AuditEntryOut,
    AuditVerifyOut,
)
from civicloud.wire.common import Instant

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.get("/audit", tags=["audit"])
def audit_log(uow: Uow, grant: Granted,
              actor: Annotated[str | None, Query(pattern=r"^(operator-token|open-api|anonymous|site:[A-Za-z0-9-]{1,64}"
                                                         r"|user:[A-Za-z0-9_.@-]{1,100}|system:[a-z_]{1,40})$",
                                                 description="operator-token, open-api, anonymous, site:<id>, "
                                                             "user:<login>, system:placement, system:reclaim")] = None,
              action: Annotated[str | None, Query(pattern=r"^(((GET|POST|PUT|PATCH|DELETE) )?/[A-Za-z0-9_{}/.-]{0,190}"
                                                          r"|[a-z_]{1,40}(\.[a-z_]{1,40})?)$",
                                                  description="'/workloads', 'POST /api/v1/workloads', or what the "
                                                              "control plane did: 'reclaim.evict', 'reclaim', "
                                                              "'placement.place', 'allocation.release'")] = None,
              since: Annotated[Instant | None, Query()] = None, until: Annotated[Instant | None, Query()] = None,
              limit: int = Query(default=100, ge=1, le=1000)) -> list[AuditEntryOut]:
    """Every change the API answered, and every change the control plane made by itself (actor ``system:…``
    or the site whose agent reported it), newest first: who, on whose behalf, what, on what, with what
    outcome."""
    found = audit.list_entries(uow, grant, actor=actor, action=action, since=since, until=until, limit=limit)
    return [AuditEntryOut(**vars(e)) for e in found]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(uow: Uow, grant: Granted) -> AuditVerifyOut:
    """Check the audit log's hash chain from its first entry: the first entry changed, removed or inserted."""
    count, broken = audit.verify(uow, grant)
    return AuditVerifyOut(entries=count, intact=broken is None, first_break=broken.seq if broken else None,
                          reason=broken.reason if broken else None)
