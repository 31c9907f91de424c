"""What routes receive: the unit of work, the caller's site (agents), the placement waker."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicloud.errors import Unauthorized
from civicloud.services import agents
from civicloud.store import UnitOfWork

_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_uow(request: Request) -> UnitOfWork:
    return request.app.state.uow_factory()


Uow = Annotated[UnitOfWork, Depends(get_uow)]


def require_operator(request: Request, creds: Bearer) -> None:
    """Guard for non-agent routes when CIVICLOUD_API_TOKEN is set (roles come with the tenancy work)."""
    expected = request.app.state.settings.api_token
    request.state.role = "federation_admin"
    if not expected:
        request.state.actor = "open-api"  # no token configured: a loopback-only deployment (run_server checks)
        return
    if creds is None or not hmac.compare_digest(creds.credentials.encode(), expected.encode()):
        raise Unauthorized("this API needs 'Authorization: Bearer <token>' (the server's CIVICLOUD_API_TOKEN)",
                           code="civicloud.auth.unauthorized")
    request.state.actor = "operator-token"


def require_site(request: Request, creds: Bearer) -> str:
    if creds is None:
        raise Unauthorized("agent routes need the site credential as 'Authorization: Bearer …'; "
                           "join with a join token first", code="civicloud.agent.invalid_credential")
    site_id = agents.authenticate(request.app.state.uow_factory(), creds.credentials)
    request.state.actor, request.state.role = f"site:{site_id}", "site_agent"
    return site_id


SiteId = Annotated[str, Depends(require_site)]
