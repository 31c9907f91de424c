"""Who may do what to which member's objects: the authorization every route goes through.

Each operation the services offer has one rule here (``OPERATIONS``, keyed by the
operation's name, "workloads.stop"): the capability it needs, and the kind of
object it acts on, whose owning member must be the caller's. A front maps each of
its entry points to an operation (the API: ``api.operations.ROUTE_OPERATIONS``)
and refuses to start with one that has none; a test walks the OpenAPI document
for the same reason.

Checks run in this order, so that nothing leaks:

1. the caller's roles must grant the capability — else 403, whatever the ids
   in the path (an answer that does not depend on whether they exist);
2. for a caller scoped to a member (``member_admin``, ``member_user``,
   ``site_operator``), the object the path names must belong to that member —
   else 404, worded exactly as for an id that does not exist.

Lists are filtered the same way (``member_scope``), and bodies naming a member
are checked with ``require_own_member``.

The services are where this is enforced: each operation is declared by one
service function (``@operation("workloads.stop")``), which takes the caller and
is authorized before its body runs, whichever front calls it. A front may
authorize up front (the API does, before it reads a body or an
``Idempotency-Key``) and pass the ``Grant`` it got, so the check is not made
twice.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from civicloud.domain.identity import Principal, Role
from civicloud.errors import Forbidden, NotFound
from civicloud.store import UnitOfWork

# Capabilities each role grants. "*" is everything; "*.read" every capability ending in ".read".
ROLE_CAPABILITIES: dict[Role, frozenset[str]] = {
    Role.FEDERATION_ADMIN: frozenset({"*"}),
    Role.AUDITOR: frozenset({"*.read"}),
    Role.MEMBER_ADMIN: frozenset({"self", "catalogue.read", "member.read", "workloads.read", "workloads.write",
                                  "groups.read", "groups.write", "networks.read", "networks.write", "sites.read",
                                  "sites.write", "hosts.read",
                                  "hosts.write", "invoices.read", "users.read", "users.write"}),
    Role.MEMBER_USER: frozenset({"self", "catalogue.read", "member.read", "workloads.read", "workloads.write",
                                 "groups.read", "groups.write", "networks.read", "networks.write"}),
    Role.SITE_OPERATOR: frozenset({"self", "catalogue.read", "member.read", "sites.read", "sites.write",
                                   "hosts.read", "hosts.write"}),
}


@dataclass(frozen=True)
class Rule:
    capability: str
    target: str | None = None  # the kind of object it acts on, which must be the caller's: member_id, site_id, …


R = Rule
# Every operation the services offer, by name: what it needs, and what it acts on. A front (the API, the
# portal to come) maps each of its entry points to one of these; a site's member proposes its certifications,
# only the federation's operator attests them.
OPERATIONS: dict[str, Rule] = {
    "members.create": R("members.write"),
    "members.list": R("member.read"),
    "members.get": R("member.read", "member_id"),
    "agreements.create": R("agreements.write"),
    "agreements.list": R("member.read", "member_id"),
    "sites.create": R("sites.write"),
    "sites.list": R("sites.read"),
    "sites.get": R("sites.read", "site_id"),
    "sites.set_offer": R("sites.write", "site_id"),
    "sites.get_offer": R("sites.read", "site_id"),
    "sites.issue_join_token": R("sites.write", "site_id"),
    "sites.revoke_agents": R("sites.write", "site_id"),
    "certifications.propose": R("sites.write", "site_id"),
    "certifications.attest": R("certifications.attest"),
    "certifications.revoke": R("certifications.attest"),
    "hosts.list": R("hosts.read"),
    "hosts.get": R("hosts.read", "host_id"),
    "hosts.set_power": R("hosts.write", "host_id"),
    "hosts.set_reserve": R("hosts.write", "host_id"),
    "hosts.set_offer": R("hosts.write", "host_id"),
    "hosts.get_offer": R("hosts.read", "host_id"),
    "hosts.remove_offer": R("hosts.write", "host_id"),
    "groups.create": R("groups.write"),
    "groups.list": R("groups.read"),
    "groups.get": R("groups.read", "group_id"),
    "groups.delete": R("groups.write", "group_id"),
    "networks.create": R("networks.write"),
    "networks.list": R("networks.read"),
    "networks.get": R("networks.read", "network_id"),
    "networks.delete": R("networks.write", "network_id"),
    "ports.list": R("networks.read"),
    "ports.get": R("networks.read", "port_id"),
    "security_groups.create": R("networks.write"),
    "security_groups.list": R("networks.read"),
    "security_groups.get": R("networks.read", "security_group_id"),
    "security_groups.delete": R("networks.write", "security_group_id"),
    "security_groups.add_rule": R("networks.write", "security_group_id"),
    "security_groups.delete_rule": R("networks.write", "security_group_id"),
    "offerings.create": R("catalogue.write"),
    "offerings.list": R("catalogue.read"),
    "offerings.get": R("catalogue.read"),
    "workloads.create": R("workloads.write"),
    "workloads.list": R("workloads.read"),
    "workloads.get": R("workloads.read", "workload_id"),
    "workloads.delete": R("workloads.write", "workload_id"),
    "workloads.start": R("workloads.write", "workload_id"),
    "workloads.stop": R("workloads.write", "workload_id"),
    "workloads.reboot": R("workloads.write", "workload_id"),
    "workloads.resize": R("workloads.write", "workload_id"),
    "workloads.samples": R("workloads.read", "workload_id"),
    "audit.list": R("audit.read"),
    "audit.verify": R("audit.read"),
    "price_books.create": R("prices.write"),
    "price_books.list": R("catalogue.read"),
    "pricing.cost_model": R("catalogue.read"),
    "billing.run": R("billing.write"),
    "billing.list_runs": R("billing.read"),
    "billing.export_period": R("billing.read"),
    "billing.get_run": R("billing.read"),
    "billing.settlement": R("billing.read"),
    "invoices.list": R("invoices.read", "member_id"),
    "statements.list": R("invoices.read", "member_id"),
    "invoices.export_csv": R("invoices.read", "member_id"),
    "invoices.export_facturx": R("invoices.read", "member_id"),
    "invoices.get": R("invoices.read", "member_id"),
    "invoices.credit": R("billing.write"),
    "usage.get": R("invoices.read", "member_id"),
    "usage.showback": R("invoices.read", "member_id"),
    "tokens.list": R("self"),
    "tokens.revoke": R("self"),
    "tokens.whoami": R("self"),
    "users.create": R("users.write"),
    "users.list": R("users.read"),
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
        if kind == "network_id":
            n = uow.networks.by_ref(ref, scope)
            return n.member_id if n else None
        if kind == "port_id":
            p = uow.ports.get(ref)
            return p.member_id if p and p.released_at is None else None
        if kind == "security_group_id":
            sg = uow.security_groups.by_ref(ref, scope)
            return sg.member_id if sg else None
    raise ValueError(f"no owner lookup for {kind}")


_NOT_FOUND_AREA = {"member_id": "member", "site_id": "site", "host_id": "host", "workload_id": "workload",
                   "group_id": "placement_group", "network_id": "network", "port_id": "port",
                   "security_group_id": "security_group"}


_SEAL = object()  # only this module mints grants


@dataclass(frozen=True)
class Grant:
    """Proof that ``principal`` may do ``operation`` (on the object ``target`` names): minted by ``authorize``
    alone. A front that authorized a request up front (the API's guard, before reading the body or an
    ``Idempotency-Key``) hands its grant to the service, which then does not check the same thing twice;
    a bare ``Principal`` is checked by the service itself."""

    principal: Principal
    operation: str
    target: str | None
    seal: object = field(default=None, repr=False, compare=False)

    def covers(self, operation: str, target: str | None) -> bool:
        return self.seal is _SEAL and self.operation == operation and self.target == target


Caller = Principal | Grant  # what a service's ``caller`` parameter takes



def principal_of(caller: Caller) -> Principal:
    return caller.principal if isinstance(caller, Grant) else caller


def scope_of(caller: Caller) -> str | None:
    """The member whose objects alone the caller sees (None: the federation's staff)."""
    return member_scope(principal_of(caller))


Store = UnitOfWork | Callable[[], UnitOfWork]  # a unit of work, or a factory of them


def _unit(store: Store) -> UnitOfWork:
    return store if hasattr(store, "__enter__") else store()  # type: ignore[return-value]


def authorize(store: Store | None, principal: Principal, operation: str, target: str | None = None) -> Grant:
    """May ``principal`` do ``operation`` (on the object ``target`` names, for an operation that acts on one)?
    Raises Forbidden (403) or, for another member's object, NotFound worded as for an unknown id; answers
    the grant that says so."""
    rule = OPERATIONS.get(operation)
    if rule is None:  # fail closed: the fronts refuse to start with such an entry point, this is the backstop
        raise Forbidden(f"{operation} has no authorization rule", code="civicloud.auth.no_rule")
    if not grants(principal, rule.capability):
        roles = ", ".join(sorted(r.value for r in principal.roles)) or "no role"
        raise Forbidden(f"{principal.actor} ({roles}) may not do this: it needs {rule.capability}",
                        code="civicloud.auth.forbidden")
    scope = member_scope(principal)
    if scope is not None and rule.target is not None:
        assert store is not None, f"{operation} acts on a {rule.target}: its owner is looked up in the store"
        ref = target or ""
        if _owner(_unit(store), rule.target, ref, scope) != scope:
            raise NotFound.of(_NOT_FOUND_AREA[rule.target], ref)  # another member's: as if it did not exist
    return Grant(principal, operation, target, _SEAL)


P = ParamSpec("P")
R_ = TypeVar("R_")
# The service function that declares each operation (filled as the services are imported).
DECLARED: dict[str, Callable[..., object]] = {}


def operation(name: str) -> Callable[[Callable[P, R_]], Callable[P, R_]]:
    """Declare the service function that carries out operation ``name``: it takes the caller (``caller``: a
    ``Principal``, or a ``Grant`` a front obtained up front), and the object the operation acts on under the
    name of its rule's target (``workload_id``…). Every call is authorized here before the body runs, so a
    front cannot forget to; inside, ``caller`` is always the grant (``scope_of(caller)`` for lists)."""
    rule = OPERATIONS[name]  # an operation without a rule fails at import

    def declare(fn: Callable[P, R_]) -> Callable[P, R_]:
        signature = inspect.signature(fn)
        params = signature.parameters
        where = f"{fn.__module__}.{fn.__qualname__}"
        if "caller" not in params:
            raise TypeError(f"{where} declares {name} and needs a 'caller' parameter")
        if rule.target is not None and rule.target not in params:
            raise TypeError(f"{where} declares {name}, which acts on a {rule.target}: it needs that parameter")
        if "uow" not in params and "uow_factory" not in params and rule.target is not None:
            raise TypeError(f"{where} declares {name}: it needs 'uow' or 'uow_factory' to look the owner up")
        if name in DECLARED:
            raise TypeError(f"{name} is declared twice ({where})")

        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R_:
            bound = signature.bind(*args, **kwargs)
            caller = bound.arguments["caller"]
            target = bound.arguments.get(rule.target) if rule.target is not None else None
            if not (isinstance(caller, Grant) and caller.covers(name, target)):
                principal = caller.principal if isinstance(caller, Grant) else caller
                if not isinstance(principal, Principal):
                    raise TypeError(f"{where}: caller must be a Principal or a Grant")
                store = bound.arguments.get("uow") or bound.arguments.get("uow_factory")
                bound.arguments["caller"] = authorize(store, principal, name, target)
            return fn(*bound.args, **bound.kwargs)

        checked.operation = name  # type: ignore[attr-defined]
        DECLARED[name] = checked
        return checked

    return declare


def own_member(uow: UnitOfWork, principal: Principal | Grant, ref: str | None) -> str | None:
    """The member a list is filtered on: the one asked for (None: all) for the federation's staff; for a
    member's staff always its own — and asking for another member's answers as if it did not exist."""
    scope = member_scope(principal_of(principal))
    if scope is None:
        return ref
    if ref is not None and _owner(uow, "member_id", ref) != scope:
        raise NotFound.of("member", ref)
    return scope


def require_own(caller: Principal | Grant, member_id: str | None, ref: str | None) -> None:
    """``require_own_member`` for a member the service has already read (``member_id``: the one ``ref`` named,
    None for none): no second look-up."""
    scope = member_scope(principal_of(caller))
    if scope is not None and member_id != scope:
        raise NotFound.of("member", ref or "")


def require_own_member(uow: UnitOfWork, principal: Principal | Grant, ref: str | None) -> None:
    """A body naming a member (a workload's, a group's, a site's, a user's) must name the caller's own."""
    scope = member_scope(principal_of(principal))
    if scope is not None and (ref is None or _owner(uow, "member_id", ref) != scope):
        raise NotFound.of("member", ref or "")
