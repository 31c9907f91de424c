"""Users, passwords and API tokens; from a credential to the principal of a request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from civicloud.domain.identity import (
    ApiToken,
    Principal,
    Role,
    User,
    check_password,
    check_roles,
)
from civicloud.domain.secrets import SecretKind, new_secret
from civicloud.errors import Conflict, Forbidden, NotFound, Unauthorized
from civicloud.services.access import Caller, operation, principal_of, require_own, scope_of
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.wire import TokenCreate, UserCreate

TOKEN_PREFIX = SecretKind.API_TOKEN.value
MAX_TOKEN_DAYS = 90
_hasher = PasswordHasher()  # argon2id, the library's defaults (RFC 9106's second recommended profile)
# A hash to verify against when the login is unknown, so that a wrong login and a wrong password take as long.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))
_WRONG = "the login or the password is wrong"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_user(uow: UnitOfWork, login: str, password: str, roles: frozenset[Role], member_id: str | None) -> User:
    check_roles(roles, member_id)
    check_password(password)
    if uow.users.by_login(login) is not None:
        raise Conflict(f"login {login!r} is taken; choose another", code="civicloud.user.login_taken", field="login")
    user = User(uow.new_id(), login, member_id, roles, uow.clock())
    uow.users.add(user, _hasher.hash(password))
    return user


def bootstrap(uow: UnitOfWork, login: str, password: str) -> User:
    """The first federation admin; refused once any user exists."""
    with uow:
        if uow.users.count() > 0:
            raise Conflict("users exist already: the first admin was created; log in with it and add others with "
                           "'civicloud user add'", code="civicloud.user.already_bootstrapped")
        user = _new_user(uow, login, password, frozenset({Role.FEDERATION_ADMIN}), None)
        uow.commit()
    return user


@operation("users.create")
def create_user(uow: UnitOfWork, caller: Caller, cmd: UserCreate) -> User:
    with uow:
        member_id = require_member(uow, cmd.member_id).id if cmd.member_id else None
        require_own(caller, member_id, cmd.member_id)
        user = _new_user(uow, cmd.login, cmd.password.get_secret_value(), frozenset(cmd.roles), member_id)
        uow.commit()
    return user


@operation("users.list")
def list_users(uow: UnitOfWork, caller: Caller) -> list[User]:
    """Every user for the federation's staff; a member's staff see their member's."""
    scope = scope_of(caller)
    with uow:
        return [u for u in uow.users.list() if scope is None or u.member_id == scope]


def users_exist(uow: UnitOfWork) -> bool:
    with uow:
        return uow.users.count() > 0


def issue_token(uow: UnitOfWork, cmd: TokenCreate) -> tuple[ApiToken, str]:
    """A token for a login and password: (the token, its secret — shown once, stored hashed)."""
    now = uow.clock()
    with uow:
        found = uow.users.by_login(cmd.login)
        try:
            _hasher.verify(found[1] if found else _DUMMY, cmd.password.get_secret_value())
        except (VerificationError, InvalidHashError):
            raise Unauthorized(_WRONG, code="civicloud.auth.bad_login") from None
        if found is None:
            raise Unauthorized(_WRONG, code="civicloud.auth.bad_login")
        user, stored = found
        if user.disabled_at is not None:
            raise Unauthorized(_WRONG, code="civicloud.auth.bad_login")
        roles = frozenset(cmd.roles) if cmd.roles else user.roles
        if not roles <= user.roles:
            raise Forbidden(f"{user.login} does not hold {', '.join(sorted(r.value for r in roles - user.roles))}; "
                            "a token carries some of its user's roles, never more", code="civicloud.auth.role_not_held",
                            field="roles")
        if _hasher.check_needs_rehash(stored):
            uow.users.set_password_hash(user.id, _hasher.hash(cmd.password.get_secret_value()))
        secret = new_secret(SecretKind.API_TOKEN)
        token = ApiToken(uow.new_id(), user.id, cmd.name, roles, now + timedelta(days=cmd.ttl_days), now)
        uow.tokens.add(token, secret_hash(secret))
        uow.commit()
    return token, secret


def authenticate(uow: UnitOfWork, secret: str) -> Principal:
    now = uow.clock()
    with uow:
        found = uow.tokens.with_user(secret_hash(secret))
        token, user = found if found is not None else (None, None)
        if token is None or not token.usable(now):
            raise Unauthorized("this API token is unknown, revoked or expired; get a new one with 'civicloud login'",
                               code="civicloud.auth.invalid_token")
        if user is None or user.disabled_at is not None:
            raise Unauthorized("this API token's user is disabled", code="civicloud.auth.invalid_token")
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            uow.tokens.touch(token.id, now)
            uow.commit()
    return Principal(f"user:{user.login}", token.roles & user.roles, user.member_id, user.id, token.id)


@operation("tokens.whoami")
def whoami(caller: Caller) -> Principal:
    """Who the caller is: its actor, roles and member."""
    return principal_of(caller)


@operation("tokens.list")
def list_tokens(uow: UnitOfWork, caller: Caller) -> list[ApiToken]:
    """A user's own tokens; every user's for the federation's admin."""
    principal = principal_of(caller)
    with uow:
        if Role.FEDERATION_ADMIN in principal.roles:
            return [tok for u in uow.users.list() for tok in uow.tokens.for_user(u.id)]
        return uow.tokens.for_user(principal.user_id) if principal.user_id else []


@operation("tokens.revoke")
def revoke_token(uow: UnitOfWork, caller: Caller, token_id: str, now: datetime | None = None) -> None:
    """Revoke a token: one's own, or any for the federation's admin. Revoking twice is not an error."""
    principal = principal_of(caller)
    with uow:
        token = uow.tokens.get(token_id)
        if token is None or (Role.FEDERATION_ADMIN not in principal.roles and token.user_id != principal.user_id):
            raise NotFound.of("token", token_id)  # another's token: as if it did not exist
        uow.tokens.revoke(token.id, now or uow.clock())
        uow.commit()
