"""Which operation each route of the API is (``services.access.OPERATIONS`` says who may do it).

Authorization is by operation, not by URL: a route names its operation here, the guard of every route
(``deps.require_operator``) asks ``access.authorize`` whether the caller may do that operation on the object
the route's path names, and the app refuses to start with a route that has no operation, or an operation
without a rule (``app.unguarded_routes``). The portal will map its pages to the same operations.
"""

from __future__ import annotations

from civicloud.domain.identity import Principal, Role
from civicloud.services.access import OPERATIONS, grants, member_scope

ROUTE_OPERATIONS: dict[tuple[str, str], str] = {
    ("POST", "/members"): "members.create",
    ("GET", "/members"): "members.list",
    ("GET", "/members/{member_id}"): "members.get",
    ("POST", "/members/{member_id}/agreements"): "agreements.create",
    ("GET", "/members/{member_id}/agreements"): "agreements.list",
    ("POST", "/sites"): "sites.create",
    ("GET", "/sites"): "sites.list",
    ("GET", "/sites/{site_id}"): "sites.get",
    ("PUT", "/sites/{site_id}/offer"): "sites.set_offer",
    ("GET", "/sites/{site_id}/offer"): "sites.get_offer",
    ("POST", "/sites/{site_id}/join-tokens"): "sites.issue_join_token",
    ("DELETE", "/sites/{site_id}/credentials"): "sites.revoke_agents",
    ("POST", "/sites/{site_id}/certifications"): "certifications.propose",
    ("POST", "/sites/{site_id}/certifications/{kind}/attest"): "certifications.attest",
    ("DELETE", "/sites/{site_id}/certifications/{kind}/attest"): "certifications.revoke",
    ("GET", "/hosts"): "hosts.list",
    ("GET", "/hosts/{host_id}"): "hosts.get",
    ("PUT", "/hosts/{host_id}/power"): "hosts.set_power",
    ("PUT", "/hosts/{host_id}/reserve"): "hosts.set_reserve",
    ("PUT", "/hosts/{host_id}/offer"): "hosts.set_offer",
    ("GET", "/hosts/{host_id}/offer"): "hosts.get_offer",
    ("DELETE", "/hosts/{host_id}/offer"): "hosts.remove_offer",
    ("POST", "/placement-groups"): "groups.create",
    ("GET", "/placement-groups"): "groups.list",
    ("GET", "/placement-groups/{group_id}"): "groups.get",
    ("DELETE", "/placement-groups/{group_id}"): "groups.delete",
    ("POST", "/networks"): "networks.create",
    ("GET", "/networks"): "networks.list",
    ("GET", "/networks/{network_id}"): "networks.get",
    ("DELETE", "/networks/{network_id}"): "networks.delete",
    ("GET", "/ports"): "ports.list",
    ("GET", "/ports/{port_id}"): "ports.get",
    ("POST", "/security-groups"): "security_groups.create",
    ("GET", "/security-groups"): "security_groups.list",
    ("GET", "/security-groups/{security_group_id}"): "security_groups.get",
    ("DELETE", "/security-groups/{security_group_id}"): "security_groups.delete",
    ("POST", "/security-groups/{security_group_id}/rules"): "security_groups.add_rule",
    ("DELETE", "/security-groups/{security_group_id}/rules/{rule_id}"): "security_groups.delete_rule",
    ("POST", "/offerings"): "offerings.create",
    ("GET", "/offerings"): "offerings.list",
    ("GET", "/offerings/{offering_id}"): "offerings.get",
    ("POST", "/workloads"): "workloads.create",
    ("GET", "/workloads"): "workloads.list",
    ("GET", "/workloads/{workload_id}"): "workloads.get",
    ("DELETE", "/workloads/{workload_id}"): "workloads.delete",
    ("POST", "/workloads/{workload_id}/start"): "workloads.start",
    ("POST", "/workloads/{workload_id}/stop"): "workloads.stop",
    ("POST", "/workloads/{workload_id}/reboot"): "workloads.reboot",
    ("POST", "/workloads/{workload_id}/resize"): "workloads.resize",
    ("GET", "/workloads/{workload_id}/samples"): "workloads.samples",
    ("GET", "/audit"): "audit.list",
    ("GET", "/audit/verify"): "audit.verify",
    ("POST", "/price-books"): "price_books.create",
    ("GET", "/price-books"): "price_books.list",
    ("POST", "/pricing/cost-model"): "pricing.cost_model",
    ("POST", "/billing/runs"): "billing.run",
    ("GET", "/billing/runs"): "billing.list_runs",
    ("GET", "/billing/runs/{period}.csv"): "billing.export_period",
    ("GET", "/billing/runs/{period}"): "billing.get_run",
    ("GET", "/billing/runs/{period}/settlement"): "billing.settlement",
    ("GET", "/members/{member_id}/invoices"): "invoices.list",
    ("GET", "/members/{member_id}/statements"): "statements.list",
    ("GET", "/members/{member_id}/invoices/{invoice_id}.csv"): "invoices.export_csv",
    ("GET", "/members/{member_id}/invoices/{invoice_id}.pdf"): "invoices.export_facturx",
    ("GET", "/members/{member_id}/invoices/{invoice_id}"): "invoices.get",
    ("POST", "/invoices/{invoice_id}/credit-notes"): "invoices.credit",
    ("GET", "/members/{member_id}/usage"): "usage.get",
    ("GET", "/members/{member_id}/showback"): "usage.showback",
    ("GET", "/auth/tokens"): "tokens.list",
    ("DELETE", "/auth/tokens/{token_id}"): "tokens.revoke",
    ("GET", "/auth/whoami"): "tokens.whoami",
    ("POST", "/users"): "users.create",
    ("GET", "/users"): "users.list",
}

# Routes that take no operator or member credential: logging in (the agents' channel has its own).
OPEN_ROUTES = {("POST", "/auth/tokens")}


def roles_table() -> str:
    """The roles × routes table of docs/security.md, made from the routes' operations and their rules
    (``scripts/roles_table.py`` writes it there; a test checks the page is current)."""
    roles = list(Role)
    lines = ["| route | operation | needs | " + " | ".join(f"`{r.value}`" for r in roles) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in roles) + " |"]
    for (method, path), operation in sorted(ROUTE_OPERATIONS.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        rule = OPERATIONS[operation]
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
        lines.append(f"| `{method} {path}` | {operation} | {rule.capability} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
