"""Authorization is by operation: every route is one operation, every operation has a rule and is reachable."""

from __future__ import annotations

import pytest

from civicloud.api.operations import OPEN_ROUTES, ROUTE_OPERATIONS
from civicloud.domain.identity import Principal, Role
from civicloud.errors import Forbidden
from civicloud.services.access import OPERATIONS, authorize


def test_every_operation_is_some_route_and_every_route_one_operation() -> None:
    assert set(ROUTE_OPERATIONS.values()) == set(OPERATIONS)  # no rule left without an entry point
    assert len(set(ROUTE_OPERATIONS.values())) == len(ROUTE_OPERATIONS)  # one route per operation
    assert not set(ROUTE_OPERATIONS) & OPEN_ROUTES
    for name in OPERATIONS:
        area, _, verb = name.partition(".")
        assert area and verb and name == name.lower(), name


def _never(*_a: object) -> None:
    raise AssertionError("a refusal by capability must not read the store")


@pytest.mark.parametrize(("role", "operation", "allowed"), [
    (Role.MEMBER_USER, "members.create", False),
    (Role.MEMBER_USER, "certifications.attest", False),
    (Role.SITE_OPERATOR, "workloads.create", False),
    (Role.AUDITOR, "workloads.stop", False),
    (Role.AUDITOR, "audit.verify", True),
    (Role.FEDERATION_ADMIN, "certifications.attest", True),
    (Role.MEMBER_ADMIN, "workloads.create", True),
])
def test_an_operation_is_authorized_the_same_whatever_the_front(role: Role, operation: str, allowed: bool) -> None:
    """What the API's guard asks, any front may ask: the operation's name, the caller, the object."""
    principal = Principal("user:x", frozenset({role}), member_id=None if role in (Role.AUDITOR,
                                                                                 Role.FEDERATION_ADMIN) else "m1")
    if allowed:
        authorize(_never, principal, operation)  # type: ignore[arg-type]  # nothing owned to look up
    else:
        with pytest.raises(Forbidden) as refusal:
            authorize(_never, principal, operation)  # type: ignore[arg-type]
        assert refusal.value.code == "civicloud.auth.forbidden" and OPERATIONS[operation].capability in str(
            refusal.value)


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(Forbidden) as refusal:
        authorize(_never, Principal("user:x", frozenset({Role.FEDERATION_ADMIN})), "workloads.teleport")  # type: ignore[arg-type]
    assert refusal.value.code == "civicloud.auth.no_rule"
