"""Logins and API tokens (/api/v1/auth), and the federation's users (/api/v1/users)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from civicloud.api.deps import Granted, LoginLimiter, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.domain.identity import ApiToken, User
from civicloud.services import identity
from civicloud.wire import (
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    WhoAmI,
)
from civicloud.wire.common import Ref

router = APIRouter(route_class=LeanRoute, prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)
users = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], tags=["users"],
                  responses=ERROR_RESPONSES)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, responses={429: {"description": "Too many logins"}})
def create_token(body: TokenCreate, uow: Uow, request: Request, limiter: LoginLimiter) -> TokenCreated:
    """Log in: a login and password for an API token (shown once). Limited to 10 attempts a minute."""
    client = request.client.host if request.client else "unknown"
    limiter.check(f"addr:{client}", f"login:{body.login}")
    token, secret = identity.issue_token(uow, body)
    request.state.actor = f"user:{body.login}"
    return TokenCreated(**token_out(token).model_dump(), token=secret)


@router.get("/tokens", dependencies=[Depends(require_operator)])
def list_tokens(uow: Uow, grant: Granted) -> list[TokenOut]:
    """Your tokens (the federation's admin: everybody's), revoked and expired ones included."""
    return [token_out(t) for t in identity.list_tokens(uow, grant)]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_operator)])
def revoke_token(token_id: Ref, uow: Uow, grant: Granted) -> Response:
    identity.revoke_token(uow, grant, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/whoami", dependencies=[Depends(require_operator)])
def whoami(grant: Granted) -> WhoAmI:
    principal = identity.whoami(grant)
    return WhoAmI(actor=principal.actor, roles=sorted(principal.roles, key=lambda r: r.value),
                  member_id=principal.member_id)


@users.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, uow: Uow, grant: Granted) -> UserOut:
    """A user of the federation (its admins), or of the caller's own member (its member admins)."""
    return user_out(identity.create_user(uow, grant, body))


@users.get("/users")
def list_users(uow: Uow, grant: Granted) -> list[UserOut]:
    return [user_out(u) for u in identity.list_users(uow, grant)]


def user_out(u: User) -> UserOut:
    return UserOut(id=u.id, login=u.login, member_id=u.member_id, roles=sorted(u.roles, key=lambda r: r.value),
                   created_at=u.created_at)


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(id=t.id, user_id=t.user_id, name=t.name, roles=sorted(t.roles, key=lambda r: r.value),
                    expires_at=t.expires_at, created_at=t.created_at, revoked_at=t.revoked_at)
