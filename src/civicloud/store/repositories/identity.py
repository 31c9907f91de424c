"""Users and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update

from civicloud.domain.identity import ApiToken, Role, User
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo, split_words

U = t.users.c
T = t.api_tokens.c


def _roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in split_words(text))


def _join(roles: frozenset[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


class UserRepository(Repo):
    def add(self, user: User, password_hash: str) -> None:
        self._conn.execute(insert(t.users).values(id=user.id, login=user.login, member_id=user.member_id,
                                                  password_hash=password_hash, roles=_join(user.roles),
                                                  created_at=user.created_at))

    def by_login(self, login: str) -> tuple[User, str] | None:
        row = self._one(select(t.users).where(U.login == login))
        return (_user(row), row.password_hash) if row else None

    def get(self, user_id: str) -> User | None:
        row = self._one(select(t.users).where(U.id == user_id))
        return _user(row) if row else None

    def list(self) -> list[User]:
        return [_user(r) for r in self._conn.execute(select(t.users).order_by(U.login))]

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.users)).scalar_one())

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._conn.execute(update(t.users).where(U.id == user_id).values(password_hash=password_hash))


def _user(r: Row[Any]) -> User:
    return User(r.id, r.login, r.member_id, _roles(r.roles), r.created_at, r.disabled_at)


class TokenRepository(Repo):
    def add(self, token: ApiToken, secret_hash: str) -> None:
        self._conn.execute(insert(t.api_tokens).values(id=token.id, user_id=token.user_id, name=token.name,
                                                       secret_hash=secret_hash, roles=_join(token.roles),
                                                       expires_at=token.expires_at, created_at=token.created_at))

    def by_secret_hash(self, secret_hash: str) -> ApiToken | None:
        row = self._one(select(t.api_tokens).where(T.secret_hash == secret_hash))
        return _token(row) if row else None

    def with_user(self, secret_hash: str) -> tuple[ApiToken, User] | None:
        """The token of this secret and its user, in one query (what every request with a token reads)."""
        user_columns = [c.label(f"u_{c.name}") for c in t.users.c if c.name != "password_hash"]
        row = self._one(select(t.api_tokens, *user_columns).join(t.users, U.id == T.user_id)
                        .where(T.secret_hash == secret_hash))
        if row is None:
            return None
        user = User(row.u_id, row.u_login, row.u_member_id, _roles(row.u_roles), row.u_created_at,
                    row.u_disabled_at)
        return _token(row), user

    def for_user(self, user_id: str) -> list[ApiToken]:
        return [_token(r) for r in self._conn.execute(select(t.api_tokens).where(T.user_id == user_id)
                                                      .order_by(T.created_at))]

    def get(self, token_id: str) -> ApiToken | None:
        row = self._one(select(t.api_tokens).where(T.id == token_id))
        return _token(row) if row else None

    def revoke(self, token_id: str, now: datetime) -> bool:
        result = self._conn.execute(update(t.api_tokens).where(and_(T.id == token_id, T.revoked_at.is_(None)))
                                    .values(revoked_at=now))
        return result.rowcount == 1

    def touch(self, token_id: str, now: datetime) -> None:
        self._conn.execute(update(t.api_tokens).where(T.id == token_id).values(last_used_at=now))


def _token(r: Row[Any]) -> ApiToken:
    return ApiToken(r.id, r.user_id, r.name, _roles(r.roles), r.expires_at, r.created_at, r.revoked_at,
                    r.last_used_at)
