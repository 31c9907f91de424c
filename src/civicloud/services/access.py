"""Who may do what to which member's objects: the authorization every route goes through.

Each route of the API has one rule here (``RULES``, keyed by method and route):
the capability it needs, and what its path names whose owning member must be
the caller's. The API refuses to build an app with a route that has no rule,
and a test walks the OpenAPI document for the same reason.

Checks run in this order, so that nothing leaks:

1. the caller's roles must grant the capability — else 403, whatever the ids
   in the path (an answer that does not depend on whether they exist);
2. for a caller scoped to a member (``member_admin``, ``member_user``,
   ``site_operator``), the object the path names must belong to that member —
   else 404, worded exactly as for an id that does not exist.

Lists are filtered the same way (``member_scope``), and bodies naming a member
are checked with ``require_own``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from civicloud.domain.identity import Principal, Role
from civicloud.errors import Forbidden, NotFound
from civicloud.store import UnitOfWork

# Capabilities each role grants. "*" is everything; "*.read" every capability ending in ".read".
ROLE_CAPABILITIES: dict[Role, frozenset[str]] = {
    Role.FEDERATION_ADMIN: frozenset({"*"}),
    Role.AUDITOR: frozenset({"*.read"}),
    Role.MEMBER_ADMIN: frozenset({"self", "catalogue.read", "member.read", "workloads.read", "workloads.write",
                                  "groups.read", "groups.write", "sites.read", "sites.write", "hosts.read",
                                  "hosts.write", "invoices.read", "users.read", "users.write"}),
    Role.MEMBER_USER: frozenset({"self", "catalogue.read", "member.read", "workloads.read", "workloads.write",
                                 "groups.read", "groups.write"}),
    Role.SITE_OPERATOR: frozenset({"self", "catalogue.read", "member.read", "sites.read", "sites.write",
                                   "hosts.read", "hosts.write"}),
}


@dataclass(frozen=True)
class Rule:
    capability: str
    target: str | None = None  # the path parameter naming the object to own: member_id, site_id, …


R = Rule
RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/members"): R("members.write"),
    ("GET", "/members"): R("member.read"),
    ("GET", "/members/{member_id}"): R("member.read", "member_id"),
    ("POST", "/members/{member_id}/agreements"): R("agreements.write"),
    ("GET", "/members/{member_id}/agreements"): R("member.read", "member_id"),
    ("POST", "/sites"): R("sites.write"),
    ("GET", "/sites"): R("sites.read"),
    ("GET", "/sites/{site_id}"): R("sites.read", "site_id"),
    ("PUT", "/sites/{site_id}/offer"): R("sites.write", "site_id"),
    ("GET", "/sites/{site_id}/offer"): R("sites.read", "site_id"),
    ("POST", "/sites/{site_id}/join-tokens"): R("sites.write", "site_id"),
    ("DELETE", "/sites/{site_id}/credentials"): R("sites.write", "site_id"),
    # A site's member proposes its certifications; only the federation's operator attests them.
    ("POST", "/sites/{site_id}/certifications"): R("sites.write", "site_id"),
    ("POST", "/sites/{site_id}/certifications/{kind}/attest"): R("certifications.attest"),
    ("DELETE", "/sites/{site_id}/certifications/{kind}/attest"): R("certifications.attest"),
    ("GET", "/hosts"): R("hosts.read"),
    ("GET", "/hosts/{host_id}"): R("hosts.read", "host_id"),
    ("PUT", "/hosts/{host_id}/power"): R("hosts.write", "host_id"),
    ("PUT", "/hosts/{host_id}/reserve"): R("hosts.write", "host_id"),
    ("PUT", "/hosts/{host_id}/offer"): R("hosts.write", "host_id"),
    ("GET", "/hosts/{host_id}/offer"): R("hosts.read", "host_id"),
    ("DELETE", "/hosts/{host_id}/offer"): R("hosts.write", "host_id"),
    ("POST", "/placement-groups"): R("groups.write"),
    ("GET", "/placement-groups"): R("groups.read"),
    ("GET", "/placement-groups/{group_id}"): R("groups.read", "group_id"),
    ("DELETE", "/placement-groups/{group_id}"): R("groups.write", "group_id"),
    ("POST", "/offerings"): R("catalogue.write"),
    ("GET", "/offerings"): R("catalogue.read"),
    ("GET", "/offerings/{offering_id}"): R("catalogue.read"),
    ("POST", "/workloads"): R("workloads.write"),
    ("GET", "/workloads"): R("workloads.read"),
    ("GET", "/workloads/{workload_id}"): R("workloads.read", "workload_id"),
    ("DELETE", "/workloads/{workload_id}"): R("workloads.write", "workload_id"),
    ("POST", "/workloads/{workload_id}/start"): R("workloads.write", "workload_id"),
    ("POST", "/workloads/{workload_id}/stop"): R("workloads.write", "workload_id"),
    ("POST", "/workloads/{workload_id}/reboot"): R("workloads.write", "workload_id"),
    ("POST", "/workloads/{workload_id}/resize"): R("workloads.write", "workload_id"),
    ("GET", "/workloads/{workload_id}/samples"): R("workloads.read", "workload_id"),
    ("GET", "/audit"): R("audit.read"),
    ("GET", "/audit/verify"): R("audit.read"),
    ("POST", "/price-books"): R("prices.write"),
    ("GET", "/price-books"): R("catalogue.read"),
    ("POST", "/pricing/cost-model"): R("catalogue.read"),
    ("POST", "/billing/runs"): R("billing.write"),
    ("GET", "/billing/runs"): R("billing.read"),
    ("GET", "/billing/runs/{period}.csv"): R("billing.read"),
    ("GET", "/billing/runs/{period}"): R("billing.read"),
    ("GET", "/billing/runs/{period}/settlement"): R("billing.read"),
    ("GET", "/members/{member_id}/invoices"): R("invoices.read", "member_id"),
    ("GET", "/members/{member_id}/statements"): R("invoices.read", "member_id"),
    ("GET", "/members/{member_id}/invoices/{invoice_id}.csv"): R("invoices.read", "member_id"),
    ("GET", "/members/{member_id}/invoices/{invoice_id}.pdf"): R("invoices.read", "member_id"),
    ("GET", "/members/{member_id}/invoices/{invoice_id}"): R("invoices.read", "member_id"),
    ("POST", "/invoices/{invoice_id}/credit-notes"): R("billing.write"),
    ("GET", "/members/{member_id}/usage"): R("invoices.read", "member_id"),
    ("GET", "/members/{member_id}/showback"): R("invoices.read", "member_id"),
    ("GET", "/auth/tokens"): R("self"),
    ("DELETE", "/auth/tokens/{token_id}"): R("self"),
    ("GET", "/auth/whoami"): R("self"),
    ("POST", "/users"): R("users.write"),
    ("GET", "/users"): R("users.read"),
}


def grants(principal: Principal, capability: str) -> bool:
    for role in principal.roles:
        caps = ROLE_CAPABILITIES[role]
        if "*" in caps or capability in caps or ("*.read" in caps and capability.endswith(".read")):
            return True
    # Reading one's own identity and tokens is every authenticated caller's.
    return capability == "self" and bool(principal.roles)


def member_scope(principal: Principal) -> str | None:
    """The member whose objects alone the caller sees, or None for the federation's staff."""
    if principal.roles & {Role.FEDERATION_ADMIN, Role.AUDITOR}:
        return None
    return principal.member_id or "-"  # a member role without a member sees nothing


def _owner(uow: UnitOfWork, kind: str, ref: str, scope: str | None = None) -> str | None:
    """The member that owns the object a path names (by id, or by name where names work); None if none.

    Site names are unique within a member only: a site's name is looked up among the ``scope``
    member's sites (``services.sites.require_site`` resolves it the same way)."""
    with uow:
        if kind == "member_id":
            m = uow.members.get(ref) or uow.members.get_by_name(ref)
            return m.id if m else None
        if kind == "site_id":
            s = uow.sites.get(ref) or next(iter(uow.sites.named(ref, scope)), None)
            return s.member_id if s else None
        if kind == "host_id":
            h = uow.hosts.get(ref)
            site = uow.sites.get(h.site_id) if h else None
            return site.member_id if site else None
        if kind == "workload_id":
            w = uow.workloads.get(ref)
            return w.member_id if w else None
        if kind == "group_id":
            g = uow.groups.get(ref)
            return g.member_id if g else None
    raise ValueError(f"no owner lookup for {kind}")


_NOT_FOUND_AREA = {"member_id": "member", "site_id": "site", "host_id": "host", "workload_id": "workload",
                   "group_id": "placement_group"}


def authorize(uow_factory: Callable[[], UnitOfWork], principal: Principal, method: str, route: str,
              path_params: dict[str, str]) -> None:
    rule = RULES.get((method, route))
    if rule is None:  # fail closed: app.py refuses to start with such a route, this is the backstop
        raise Forbidden(f"{method} {route} has no authorization rule", code="civicloud.auth.no_rule")
    if not grants(principal, rule.capability):
        roles = ", ".join(sorted(r.value for r in principal.roles)) or "no role"
        raise Forbidden(f"{principal.actor} ({roles}) may not do this: it needs {rule.capability}",
                        code="civicloud.auth.forbidden")
    scope = member_scope(principal)
    if scope is None or rule.target is None:
        return
    ref = path_params.get(rule.target, "")
    if _owner(uow_factory(), rule.target, ref, scope) != scope:
        raise NotFound.of(_NOT_FOUND_AREA[rule.target], ref)  # another member's: as if it did not exist


def own_member(uow: UnitOfWork, principal: Principal, ref: str | None) -> str | None:
    """The member a list is filtered on: the one asked for (None: all) for the federation's staff; for a
    member's staff always its own — and asking for another member's answers as if it did not exist."""
    scope = member_scope(principal)
    if scope is None:
        return ref
    if ref is not None and _owner(uow, "member_id", ref) != scope:
        raise NotFound.of("member", ref)
    return scope


def require_own_member(uow: UnitOfWork, principal: Principal, ref: str | None) -> None:
    """A body naming a member (a workload's, a group's, a site's, a user's) must name the caller's own."""
    scope = member_scope(principal)
    if scope is not None and (ref is None or _owner(uow, "member_id", ref) != scope):
        raise NotFound.of("member", ref or "")


def roles_table() -> str:
    """The roles × routes table of docs/security.md, made from ``RULES`` and ``ROLE_CAPABILITIES``
    (``scripts/roles_table.py`` writes it there; a test checks the page is current)."""
    roles = list(Role)
    lines = ["| route | needs | " + " | ".join(f"`{r.value}`" for r in roles) + " |",
             "| --- | --- | " + " | ".join("---" for _ in roles) + " |"]
    for (method, path), rule in sorted(RULES.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cells = []
        for role in roles:
            principal = Principal("doc", frozenset({role}), member_id="m")
            if not grants(principal, rule.capability):
                cells.append("—")
            elif rule.capability == "self":  # one's own tokens; the federation's admin sees everyone's
                cells.append("yes" if role is Role.FEDERATION_ADMIN else "own")
            elif member_scope(principal) is not None:
                cells.append("own")
            else:
                cells.append("yes")
        lines.append(f"| `{method} {path}` | {rule.capability} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
