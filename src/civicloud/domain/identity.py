"""Who calls the API: users, their roles, and what a role may do. Pure.

Roles (Keystone-like; a user belongs to one member, the federation's own staff to none):

- ``federation_admin`` — the operator: members, agreements, catalogue, price books, billing runs, everything;
- ``auditor`` — reads everything, the audit log included, and changes nothing;
- ``member_admin`` — its member's users, workloads, placement groups, invoices and usage, and, for a
  lender, its sites, offers, hosts and reserves;
- ``member_user`` — its member's workloads and placement groups;
- ``site_operator`` — its member's sites, offers, hosts and reserves.

What each may call, and the rule that a member's staff only ever see their own member's objects, live in
``services/access.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from civicloud.errors import InvalidInput


class Role(str, Enum):
    FEDERATION_ADMIN = "federation_admin"
    AUDITOR = "auditor"
    MEMBER_ADMIN = "member_admin"
    MEMBER_USER = "member_user"
    SITE_OPERATOR = "site_operator"


OPERATOR_ROLES = frozenset({Role.FEDERATION_ADMIN, Role.AUDITOR})  # roles of the federation's own staff


@dataclass(frozen=True)
class User:
    id: str
    login: str
    member_id: str | None  # None: the federation's operator
    roles: frozenset[Role]
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass(frozen=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    roles: frozenset[Role]  # a subset of its user's
    expires_at: datetime
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    actor: str  # "user:<login>", "operator-token", "open-api"
    roles: frozenset[Role]
    member_id: str | None = None
    user_id: str | None = None
    token_id: str | None = None

    @property
    def role(self) -> str:
        """The role that counts for the audit log: the strongest the caller has."""
        for r in Role:
            if r in self.roles:
                return r.value
        return "none"


def check_roles(roles: frozenset[Role], member_id: str | None) -> None:
    """A user's roles must fit where the user belongs: operator roles for the operator's staff, member roles
    for a member's."""
    if not roles:
        raise InvalidInput("give the user at least one role", code="civicloud.user.no_role", field="roles")
    if member_id is None and not roles <= OPERATOR_ROLES:
        raise InvalidInput("the federation's own staff have operator roles (federation_admin, auditor); "
                           "give a member for member roles", code="civicloud.user.invalid_roles", field="roles")
    if member_id is not None and roles & OPERATOR_ROLES:
        raise InvalidInput("a member's staff cannot hold operator roles (federation_admin, auditor)",
                           code="civicloud.user.invalid_roles", field="roles")


def check_password(password: str) -> None:
    if len(password) < 12 or len(password) > 1024:
        raise InvalidInput("a password has 12 to 1,024 characters", code="civicloud.user.weak_password",
                           field="password")
    if len(set(password)) < 5:
        raise InvalidInput("this password repeats too few characters; choose a longer passphrase",
                           code="civicloud.user.weak_password", field="password")
