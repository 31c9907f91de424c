"""Users and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, SecretStr, StringConstraints, field_serializer

from civicloud.domain.identity import Role
from civicloud.wire.common import In, Name, Out, Ref


class _CarriesPassword(In):
    """A request with a password: masked in reprs and logs, sent in clear only in the JSON of the request."""

    password: SecretStr

    @field_serializer("password", when_used="json")
    def _send(self, value: SecretStr) -> str:
        return value.get_secret_value()


class UserCreate(_CarriesPassword):
    login: Annotated[str, StringConstraints(min_length=2, max_length=120, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: SecretStr = Field(max_length=1024, description="12 to 1,024 characters; stored as an argon2 hash, "
                                                             "never in clear")
    member_id: Ref | None = Field(default=None, description="the member the user works for; unset: the operator")
    roles: list[Role] = Field(min_length=1, max_length=5)


class UserOut(Out):
    id: str
    login: str
    member_id: str | None
    roles: list[Role]
    created_at: datetime


class TokenCreate(_CarriesPassword):
    login: Annotated[str, StringConstraints(min_length=2, max_length=120, pattern=r"^[A-Za-z0-9_.@-]+$")]
    password: SecretStr = Field(max_length=1024)
    name: Name = "cli"
    roles: list[Role] | None = Field(default=None, max_length=5, description="a subset of the user's; unset: all")
    ttl_days: int = Field(default=30, ge=1, le=90)


class TokenOut(Out):
    id: str
    user_id: str
    name: str
    roles: list[Role]
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret, shown this once: send it as 'Authorization: Bearer …'")


class WhoAmI(Out):
    actor: str
    roles: list[Role]
    member_id: str | None
