"""Logins and API tokens (/api/v1/auth), and the federation's users (/api/v1/users)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from civicloud.api.deps import Caller, LoginLimiter, Uow, Uows, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.domain.identity import ApiToken, User
from civicloud.services import access, identity
from civicloud.wire import (
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    WhoAmI,
)
from civicloud.wire.common import Ref

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)
users = APIRouter(dependencies=[Depends(require_operator)], tags=["users"], responses=ERROR_RESPONSES)


@router.post("/tokens", status_code=status.HTTP_201_CREATED, responses={429: {"description": "Too many logins"}})
def create_token(body: TokenCreate, uow: Uow, request: Request, limiter: LoginLimiter) -> TokenCreated:
    """Log in: a login and password for an API token (shown once). Limited to 10 attempts a minute."""
    client = request.client.host if request.client else "unknown"
    limiter.check(f"addr:{client}", f"login:{body.login}")
    token, secret = identity.issue_token(uow, body)
    request.state.actor = f"user:{body.login}"
    return TokenCreated(**token_out(token).model_dump(), token=secret)


@router.get("/tokens", dependencies=[Depends(require_operator)])
def list_tokens(uow: Uow, principal: Caller) -> list[TokenOut]:
    """Your tokens (the federation's admin: everybody's), revoked and expired ones included."""
    return [token_out(t) for t in identity.list_tokens(uow, principal)]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Depends(require_operator)])
def revoke_token(token_id: Ref, uow: Uow, principal: Caller) -> Response:
    identity.revoke_token(uow, principal, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/whoami", dependencies=[Depends(require_operator)])
def whoami(principal: Caller) -> WhoAmI:
    return WhoAmI(actor=principal.actor, roles=sorted(principal.roles, key=lambda r: r.value),
                  member_id=principal.member_id)


@users.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, uow: Uow, principal: Caller, uows: Uows) -> UserOut:
    """A user of the federation (its admins), or of the caller's own member (its member admins)."""
    access.require_own_member(uows(), principal, body.member_id)
    return user_out(identity.create_user(uow, body))


@users.get("/users")
def list_users(uow: Uow, principal: Caller) -> list[UserOut]:
    scope = access.member_scope(principal)
    return [user_out(u) for u in identity.list_users(uow) if scope is None or u.member_id == scope]


def user_out(u: User) -> UserOut:
    return UserOut(id=u.id, login=u.login, member_id=u.member_id, roles=sorted(u.roles, key=lambda r: r.value),
                   created_at=u.created_at)


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(id=t.id, user_id=t.user_id, name=t.name, roles=sorted(t.roles, key=lambda r: r.value),
                    expires_at=t.expires_at, created_at=t.created_at, revoked_at=t.revoked_at)
