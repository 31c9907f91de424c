"""What routes receive: the unit of work, the caller's site (agents), the placement waker."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicloud.api import idempotency
from civicloud.api.operations import ROUTE_OPERATIONS
from civicloud.domain.identity import Principal, Role
from civicloud.errors import Unauthorized
from civicloud.services import access, agents, identity
from civicloud.services.rate_limits import RateLimiter
from civicloud.settings import Settings
from civicloud.store import UnitOfWork, outside_transaction

_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


# The dependencies that only look something up are coroutines: FastAPI runs a plain function in its thread
# pool, and each such hop costs a request more CPU than the lookup itself.
async def get_uow(request: Request) -> UnitOfWork:
    return request.app.state.uow_factory()


Uow = Annotated[UnitOfWork, Depends(get_uow)]


async def get_uow_factory(request: Request) -> Callable[[], UnitOfWork]:
    return request.app.state.uow_factory


Uows = Annotated[Callable[[], UnitOfWork], Depends(get_uow_factory)]  # for more than one unit of work


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def get_login_limiter(request: Request) -> RateLimiter:
    return request.app.state.login_limiter


LoginLimiter = Annotated[RateLimiter, Depends(get_login_limiter)]


def caller(request: Request, creds: Bearer) -> Principal:
    """Who is calling: a user's API token, the server's CIVICLOUD_API_TOKEN (the operator's break-glass
    credential), or nobody — accepted only while no token is configured and no user exists yet (a fresh,
    loopback-only server before 'civicloud admin bootstrap')."""
    settings = request.app.state.settings
    if creds is not None:
        secret = creds.credentials
        if settings.api_token and hmac.compare_digest(secret.encode(), settings.api_token.encode()):
            principal = Principal("operator-token", frozenset({Role.FEDERATION_ADMIN}))
        elif secret.startswith(identity.TOKEN_PREFIX):
            # Before the request's own transaction begins, and in transactions of their own: the token's
            # use and its rate-limit count are kept whatever becomes of the request, and on SQLite the
            # count's transaction would otherwise wait for the write lock the request's holds.
            with outside_transaction():
                principal = identity.authenticate(request.app.state.uow_factory(), secret)
            request.app.state.token_limiter.check(f"token:{principal.token_id}", attempts=settings.requests_per_minute(
                r.value for r in principal.roles))
        else:
            raise Unauthorized("this credential is not valid here; send 'Authorization: Bearer <API token>' "
                               "(get one with 'civicloud login')", code="civicloud.auth.unauthorized")
    elif not settings.api_token and not _users_exist(request):
        principal = Principal("open-api", frozenset({Role.FEDERATION_ADMIN}))
    else:
        raise Unauthorized("this API needs 'Authorization: Bearer <API token>'; get one with 'civicloud login'",
                           code="civicloud.auth.unauthorized")
    request.state.actor, request.state.role, request.state.member_id = \
        principal.actor, principal.role, principal.member_id
    return principal


def _users_exist(request: Request) -> bool:
    """Whether a user exists, asked of the store until one does: the open API closes for good at the first
    user ('civicloud admin bootstrap'), so a worker need not ask again at each request once it saw one."""
    state = request.app.state
    if not getattr(state, "users_seen", False):
        state.users_seen = identity.users_exist(state.uow_factory())
    return bool(state.users_seen)


def require_operator(request: Request, creds: Bearer) -> access.Grant:
    """Guard of every non-agent route: the route's operation (``api.operations``) authorized by its rule in
    ``services.access`` — capability, then ownership of the object the path names — and then, for a POST with
    an ``Idempotency-Key``, the key (``api.idempotency``): a retry is checked exactly as a new request before
    it may get the stored answer. Answers the grant, which the route hands to the service that declares the
    operation (so that it is not checked twice); before the body is read, so that a caller without the right
    learns nothing from a validation error. Finds the caller itself (``caller``) rather than by a dependency of
    its own: one hop to FastAPI's thread pool fewer for every request."""
    principal = caller(request, creds)
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or request.url.path
    operation = ROUTE_OPERATIONS.get((request.method, template), f"{request.method} {template}")
    rule = access.OPERATIONS.get(operation)
    target = request.path_params.get(rule.target) if rule is not None and rule.target else None
    grant = access.authorize(request.app.state.uow_factory, principal, operation, target)
    key = request.headers.get("idempotency-key")
    if key is None or request.method != "POST":
        return grant
    idempotency.check_key(key)
    owner = idempotency.owner_of(principal)
    digest = request.scope.get("state", {}).get("body_sha256", "")
    try:
        idempotency.claim(request.app.state.uow_factory, owner, key, f"POST {request.url.path}"[:300], digest,
                          request.app.state.clock())
    except idempotency.Replay:
        request.state.replayed = True
        raise
    request.state.idempotency = (owner, key)
    return grant


Granted = Annotated[access.Grant, Depends(require_operator)]  # the route's operation, authorized


def require_site(request: Request, creds: Bearer) -> str:
    if creds is None:
        raise Unauthorized("agent routes need the site credential as 'Authorization: Bearer …'; "
                           "join with a join token first", code="civicloud.agent.invalid_credential")
    site_id = agents.authenticate(request.app.state.uow_factory(), creds.credentials)
    request.state.actor, request.state.role = f"site:{site_id}", "site_agent"
    return site_id


SiteId = Annotated[str, Depends(require_site)]
