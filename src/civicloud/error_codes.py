"""Every stable error code civicloud emits: its kind, the HTTP status it is answered with, what it means.

Codes never change once released; messages may. A code no longer raised is not deleted nor reused: it moves
to ``RETIRED``. ``tests/unit/test_error_catalogue.py`` reads the source and checks that every code raised is
here with the kind of the class that raises it, and that every code here is still raised somewhere;
``scripts/error_table.py`` writes the table of docs/api.md from this module.

Pure: imports only ``civicloud.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from civicloud.errors import ErrorKind

# The HTTP status of each kind (the API's answer to a CivicloudError).
STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHORIZED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTERNAL: 500,
}


def kind_of_status(status: int) -> ErrorKind:
    """The kind of an error answer, from its HTTP status: what the client raises. Every 4xx the table above
    does not name (400, 405, 413, 415, …) is the request's fault, so invalid; every other 5xx is internal."""
    for kind, kind_status in STATUS.items():
        if kind_status == status:
            return kind
    return ErrorKind.INVALID if 400 <= status < 500 else ErrorKind.INTERNAL


class Surface(str, Enum):
    API = "api"  # an answer of the API, {"error": {code, message, field}} with its HTTP status
    CLIENT = "client"  # raised by the HTTP client itself, in the CLI or the agent, before or instead of an answer
    LOCAL = "local"  # raised on the machine that runs a command, the agent or the server's start-up; never sent


@dataclass(frozen=True)
class ErrorCode:
    code: str
    kind: ErrorKind
    summary: str  # one line: what it means, what to do
    surface: Surface = Surface.API
    status: int | None = None  # only where the API answers otherwise than its kind's status (400, 405, 413, 415)

    @property
    def http_status(self) -> int:
        return self.status if self.status is not None else STATUS[self.kind]


@dataclass(frozen=True)
class RefusalCode:
    """Why a usage sample is refused. Not an error: ``POST /agent/usage`` answers 200 and acknowledges the
    sample among ``rejected`` with this code; the agent drops it (sending it again would be refused again)."""

    code: str
    summary: str


def _codes(*entries: ErrorCode) -> dict[str, ErrorCode]:
    return {e.code: e for e in entries}


I, N, C, U, F, R, A, X = (  # noqa: E741 — one letter per kind keeps the table below readable
    ErrorKind.INVALID, ErrorKind.NOT_FOUND, ErrorKind.CONFLICT, ErrorKind.UNAUTHORIZED,
    ErrorKind.FORBIDDEN, ErrorKind.RATE_LIMITED, ErrorKind.UNAVAILABLE, ErrorKind.INTERNAL)

CATALOGUE: dict[str, ErrorCode] = _codes(
    # The classes' own codes: what an error carries when it is raised without a code of its own.
    ErrorCode("civicloud.error", X, "an error without a code of its own: a bug; report it to the federation operator"),
    ErrorCode("civicloud.request.invalid", I,
              "a value of the request is wrong: `field` names it, the message says why"),
    ErrorCode("civicloud.not_found", N, "nothing has that id; list the objects to find the right one"),
    ErrorCode("civicloud.conflict", C, "the object's state forbids this now; read it again and retry or change course"),
    ErrorCode("civicloud.concurrent_update", C,
              "someone changed the object while the request was handled; read it again and retry"),
    ErrorCode("civicloud.unavailable", A, "a service is out of reach; retry in a moment"),
    # Answers the API writes itself, outside the CivicloudError hierarchy.
    ErrorCode("civicloud.request.bad", I, "the request body could not be read; send it again whole", status=400),
    ErrorCode("civicloud.request.malformed_json", I, "the body is not valid JSON; send a JSON object"),
    ErrorCode("civicloud.request.too_large", I, "the body is over 1 MiB; send less at a time", status=413),
    ErrorCode("civicloud.request.unsupported_media_type", I,
              "the body is not JSON; send it with Content-Type: application/json", status=415),
    ErrorCode("civicloud.route.not_found", N, "no such route; see /api/v1/openapi.json"),
    ErrorCode("civicloud.route.method_not_allowed", I,
              "the route does not take that method; see /api/v1/openapi.json", status=405),
    ErrorCode("civicloud.internal", X,
              "an unexpected error, logged on the server; retry, and report it if it persists"),
    # Credentials and roles.
    ErrorCode("civicloud.auth.unauthorized", U,
              "no credential, or not one valid here; send an API token as a Bearer credential ('civicloud login')"),
    ErrorCode("civicloud.auth.bad_login", U, "wrong login or password, or a disabled user; check them"),
    ErrorCode("civicloud.auth.invalid_token", U,
              "the API token is unknown, revoked or expired, or its user disabled; log in again"),
    ErrorCode("civicloud.auth.forbidden", F,
              "the credential's roles do not allow this; ask an admin for the role the message names"),
    ErrorCode("civicloud.auth.role_not_held", F,
              "a token asked for a role its user does not hold; ask for fewer roles"),
    ErrorCode("civicloud.auth.no_rule", F,
              "the route has no authorization rule, so nobody may call it: a bug; report it"),
    ErrorCode("civicloud.auth.rate_limited", R,
              "too many logins, or too many requests with one API token; wait as the message says"),
    ErrorCode("civicloud.user.login_taken", C, "another user has that login; choose another"),
    ErrorCode("civicloud.user.already_bootstrapped", C,
              "the first admin exists already; log in with it and add users with 'civicloud user add'"),
    ErrorCode("civicloud.user.no_role", I, "a user needs at least one role"),
    ErrorCode("civicloud.user.invalid_roles", I,
              "operator roles are for the federation's staff, member roles need a member"),
    ErrorCode("civicloud.user.weak_password", I,
              "the password is too short, too long or too repetitive; choose a longer passphrase"),
    ErrorCode("civicloud.token.not_found", N,
              "no API token of yours has that id; list them with 'civicloud token list'"),
    # Idempotency keys and the audit log.
    ErrorCode("civicloud.idempotency.invalid_key", I,
              "an Idempotency-Key is 1 to 200 printable characters, e.g. a UUID"),
    ErrorCode("civicloud.idempotency.key_reused", I, "the Idempotency-Key was used for another request; use a new key"),
    ErrorCode("civicloud.idempotency.in_progress", C,
              "a request with this Idempotency-Key is being handled; retry in a moment"),
    ErrorCode("civicloud.idempotency.secret_shown_once", C,
              "the request was done already and its secret is not kept; revoke it and ask again with a new key"),
    ErrorCode("civicloud.audit.busy", A,
              "the audit log is too busy to take the entry; nothing was saved, retry in a moment"),
    # Members and agreements.
    ErrorCode("civicloud.member.not_found", N, "no member has that id or name, or it is another member's"),
    ErrorCode("civicloud.member.name_taken", C, "a member has that name already; choose another"),
    ErrorCode("civicloud.member.invalid_siren", I,
              "not a valid SIREN (9 digits, Luhn-checked); copy it from the INSEE register"),
    ErrorCode("civicloud.member.invalid_siret", I, "not a valid SIRET, or not one of the member's SIREN"),
    ErrorCode("civicloud.agreement.invalid_period", I, "an agreement ends after it starts"),
    # Sites, certifications and offers.
    ErrorCode("civicloud.site.not_found", N, "no site has that id or name, or it is another member's"),
    ErrorCode("civicloud.site.name_taken", C, "the member has a site of that name already; choose another"),
    ErrorCode("civicloud.site.ambiguous_name", C, "several members have a site of that name; name it by its id"),
    ErrorCode("civicloud.site.invalid_insee_code", I,
              "not an INSEE commune code of the official geographic code (COG)"),
    ErrorCode("civicloud.site.invalid_timezone", I, "not an IANA time zone; use a name such as Europe/Paris"),
    ErrorCode("civicloud.site.invalid_location", I, "give both latitude and longitude, or neither"),
    ErrorCode("civicloud.site.invalid_certification", I,
              "a certification's activities are wrong: HDS takes activities 1 to 6, the others none"),
    ErrorCode("civicloud.site.duplicate_certification", I, "each kind of certification is given once"),
    ErrorCode("civicloud.certification.not_found", N,
              "the site has no certification of that kind; its member proposes it first"),
    ErrorCode("civicloud.certification.invalid_attestation", I,
              "an attestation names the certificate's number and issuer, and it expires after it is valid"),
    ErrorCode("civicloud.certification.expired", I,
              "an expired certificate cannot be attested; attest the renewed one"),
    ErrorCode("civicloud.offer.no_target", I, "an offer is set on a site or on a host; name one"),
    ErrorCode("civicloud.offer.invalid_share", I, "a share is between 0 and 100 %"),
    ErrorCode("civicloud.offer.invalid_notice", I, "the reclaim notice is between 0 s and 7 days"),
    ErrorCode("civicloud.offer.invalid_window", I,
              "a window is DAYS HH:MM-HH:MM SHARE with at least one day, e.g. 'mon-fri 20:00-07:00 80'"),
    ErrorCode("civicloud.offer.overlapping_windows", I,
              "two windows of the offer cover the same minute; the message names them, keep one"),
    # Hosts, offerings and placement groups.
    ErrorCode("civicloud.host.not_found", N, "no host has that id, or it is another member's"),
    ErrorCode("civicloud.host.invalid_ratio", I, "an allocation ratio is above 0 and at most 64"),
    ErrorCode("civicloud.host.reserve_too_large", I, "the owner's reserve exceeds what the host has"),
    ErrorCode("civicloud.host.invalid_power", I, "a host draws at least as much at full load as at idle"),
    ErrorCode("civicloud.offering.not_found", N,
              "no offering has that id or name; list them with 'civicloud offering list'"),
    ErrorCode("civicloud.offering.name_taken", C, "an offering has that name already; choose another"),
    ErrorCode("civicloud.offering.invalid_trait", I,
              "an unknown certification trait; the message lists the known ones"),
    ErrorCode("civicloud.placement_group.not_found", N,
              "no placement group has that id or name, or it is another member's"),
    ErrorCode("civicloud.placement_group.name_taken", C, "the member has a placement group of that name already"),
    ErrorCode("civicloud.placement_group.in_use", C, "the group still holds live workloads; delete them first"),
    # Tenant networks, ports and security groups.
    ErrorCode("civicloud.network.not_found", N, "no network has that id or name, or it is another member's"),
    ErrorCode("civicloud.network.name_taken", C, "the member has a network of that name already; choose another"),
    ErrorCode("civicloud.network.in_use", C,
              "live workloads have ports on the network (the message names them); delete those workloads first"),
    ErrorCode("civicloud.network.invalid_cidr", I,
              "not an IPv4 network a.b.c.d/n with its host bits zero (IPv6 is not offered yet)"),
    ErrorCode("civicloud.network.cidr_size", I, "a subnet is from /16 to /29"),
    ErrorCode("civicloud.network.reserved_cidr", I,
              "the range overlaps loopback, link-local, multicast or reserved space; choose a private range"),
    ErrorCode("civicloud.network.invalid_address", I, "not an IPv4 address a.b.c.d"),
    ErrorCode("civicloud.network.gateway_outside", I,
              "the gateway is not a host address of its subnet; leave it out to take the first one"),
    ErrorCode("civicloud.network.too_many_dns", I, "at most 4 distinct DNS servers per subnet"),
    ErrorCode("civicloud.network.subnet_count", I, "a network has 1 to 8 subnets"),
    ErrorCode("civicloud.network.overlapping_subnets", I, "two subnets of one network overlap; keep them disjoint"),
    ErrorCode("civicloud.network.full", C, "the network has no free address left; delete a workload or use another"),
    ErrorCode("civicloud.network.no_vni_left", C, "every VXLAN network identifier is in use; delete unused networks"),
    ErrorCode("civicloud.port.not_found", N, "no live port has that id, or it is another member's"),
    ErrorCode("civicloud.port.ip_outside", I, "the fixed address is outside every subnet of the network"),
    ErrorCode("civicloud.port.ip_reserved", C,
              "the fixed address is a subnet's network, broadcast or gateway address; choose a host address"),
    ErrorCode("civicloud.port.ip_taken", C, "another live port of the network holds the fixed address"),
    ErrorCode("civicloud.security_group.not_found", N,
              "no security group has that id or name, or it is another member's"),
    ErrorCode("civicloud.security_group.name_taken", C, "the member has a security group of that name already"),
    ErrorCode("civicloud.security_group.in_use", C,
              "live ports, or other groups' rules, use the group (the message names them); detach them first"),
    ErrorCode("civicloud.security_group.invalid_ports", I,
              "ports go with tcp or udp only, as 1 <= port_min <= port_max <= 65535"),
    ErrorCode("civicloud.security_group.two_remotes", I, "a rule names a remote CIDR or a remote group, not both"),
    ErrorCode("civicloud.security_group.too_many_rules", C, "a security group has at most 100 rules"),
    ErrorCode("civicloud.security_group.rule_not_found", N, "the security group has no rule with that id"),
    # Workloads and quotas.
    ErrorCode("civicloud.workload.not_found", N, "no workload has that id, or it is another member's"),
    ErrorCode("civicloud.workload.name_taken", C,
              "the member has a live workload of that name; choose another or delete the old one"),
    ErrorCode("civicloud.workload.not_placed", C,
              "the workload is not placed yet, so there is nothing to stop; delete it to cancel"),
    ErrorCode("civicloud.workload.not_running", C, "only a running workload is rebooted; start it instead"),
    ErrorCode("civicloud.workload.not_stopped", C,
              "a workload is resized when stopped; stop it, wait for 'stopped', then resize"),
    ErrorCode("civicloud.workload.deleted", C, "the workload is deleted; create a new one"),
    ErrorCode("civicloud.workload.evicting", C,
              "the host's owner takes the host back; wait until the workload is re-placed or stopped"),
    ErrorCode("civicloud.workload.class_change", C,
              "a resize keeps the service class; pick an offering of the same class"),
    ErrorCode("civicloud.workload.disk_shrink", C, "a disk only grows; pick an offering with at least the same disk"),
    ErrorCode("civicloud.workload.resize_no_room", C,
              "the workload's host cannot take the new size; delete and create the workload to place it elsewhere"),
    ErrorCode("civicloud.workload.invalid_transition", C, "the workload's state does not allow that change"),
    ErrorCode("civicloud.quota.exceeded", C,
              "an agreement quota (named in `field`) is used up; delete a workload or ask for a larger agreement"),
    # Billing and usage.
    ErrorCode("civicloud.billing.invalid_period", I,
              "a period is a month written YYYY-MM, within the supported years, and begun"),
    ErrorCode("civicloud.billing.period_open", C, "the period is not over; bill it once it has ended"),
    ErrorCode("civicloud.billing.no_price_book", C, "no price book applies to a member of the period; add one"),
    ErrorCode("civicloud.billing.invalid_credit", I,
              "a credit note takes between 0.01 EUR and what is left of the invoice"),
    ErrorCode("civicloud.billing.operator_unset", C,
              "Factur-X needs the operator's identity: set CIVICLOUD_OPERATOR_SIRET and CIVICLOUD_OPERATOR_NAME"),
    ErrorCode("civicloud.billing.not_an_invoice", C, "a lender's statement is not an invoice; export it as CSV"),
    ErrorCode("civicloud.billing.facturx_invalid", I,
              "the Factur-X made of a document fails its schema: a bug; report it with the document's number"),
    ErrorCode("civicloud.billing_run.not_found", N,
              "the period has not been billed; run 'civicloud billing run --period YYYY-MM'"),
    ErrorCode("civicloud.invoice.not_found", N, "no invoice (or statement) of that member has that number"),
    ErrorCode("civicloud.price_book.billed_period", C,
              "the price book would apply to a period billed already; make it start after"),
    ErrorCode("civicloud.price_book.invalid_price", I,
              "a price is between 0 and 1,000,000 EUR with at most 6 decimals"),
    ErrorCode("civicloud.price_book.invalid_fee", I, "the operator's fee is a percentage between 0 and 100"),
    ErrorCode("civicloud.pricing.invalid_weights", I, "the vCPU, memory and disk weights are shares that add up to 1"),
    ErrorCode("civicloud.pricing.invalid_input", I, "a cost model value is out of its bounds; the message gives them"),
    ErrorCode("civicloud.usage.invalid_range", I, "the end of a usage range comes after its start"),
    # Agents (as the API sees them).
    ErrorCode("civicloud.agent.invalid_join_token", U,
              "the join token is unknown, expired or used; issue a new one with 'civicloud site join-token SITE'"),
    ErrorCode("civicloud.agent.invalid_credential", U,
              "no site credential, or an unknown or revoked one; join again with a new join token"),
    # The database.
    ErrorCode("civicloud.store.unavailable", A,
              "the database is out of reach or failed; nothing was saved, retry in a moment"),
    ErrorCode("civicloud.store.conflict", C, "this conflicts with something that exists (a name or id must be unique)"),
    ErrorCode("civicloud.store.value_out_of_range", I, "a value is out of what the database can store"),
    # Raised by the HTTP client (CLI, agent) itself.
    ErrorCode("civicloud.client.unreachable", A,
              "the API cannot be reached; check --server / CIVICLOUD_SERVER_URL and that 'civicloud server' runs",
              Surface.CLIENT),
    # Raised by a command, the agent or the server's start-up on their own machine.
    ErrorCode("civicloud.agent.no_host", I,
              "an agent drives at least one host; pass --libvirt-uri or --host NAME=URI", Surface.LOCAL),
    ErrorCode("civicloud.agent.duplicate_host", I,
              "two hosts of the agent share a name; name them with --host NAME=URI", Surface.LOCAL),
    ErrorCode("civicloud.agent.invalid_host", I, "--host takes NAME=URI, e.g. hv1=qemu:///system", Surface.LOCAL),
    ErrorCode("civicloud.agent.invalid_image", I, "--image takes OFFERING=PATH", Surface.LOCAL),
    ErrorCode("civicloud.agent.invalid_domain_type", I, "--domain-type is kvm, qemu or auto", Surface.LOCAL),
    ErrorCode("civicloud.agent.invalid_tunnel_ip", I, "--tunnel-ip is the host's IPv4 address on the underlay",
              Surface.LOCAL),
    ErrorCode("civicloud.agent.no_bridge_filtering", I,
              "tenant networks need the kernel's br_netfilter (modprobe br_netfilter) for their security groups",
              Surface.LOCAL),
    ErrorCode("civicloud.agent.networks_need_one_host", I,
              "an agent that programs tenant networks drives the one host it runs on; run one agent per host",
              Surface.LOCAL),
    ErrorCode("civicloud.agent.data_plane", X, "the host refused a change of its tenant networks (logged, retried)",
              Surface.LOCAL),
    ErrorCode("civicloud.agent.bad_credential_file", I,
              "the agent's saved credential is damaged; remove it and join again", Surface.LOCAL),
    ErrorCode("civicloud.agent.not_joined", U,
              "the agent has not joined yet; pass --join-token from 'civicloud site join-token SITE'", Surface.LOCAL),
    ErrorCode("civicloud.driver.failed", A,
              "the hypervisor refused or failed an operation; the message says which and why", Surface.LOCAL),
    ErrorCode("civicloud.driver.unreachable", A,
              "libvirt cannot be opened or reconnected; check the URI and that libvirtd runs", Surface.LOCAL),
    ErrorCode("civicloud.driver.no_image", A,
              "no guest image for the offering on the host; give the agent --guest-dir or --image OFFERING=PATH",
              Surface.LOCAL),
    ErrorCode("civicloud.driver.no_qemu_img", A, "qemu-img is not installed; install qemu-utils", Surface.LOCAL),
    ErrorCode("civicloud.driver.image_failed", A,
              "qemu-img could not create or grow a disk; the message has its error", Surface.LOCAL),
    ErrorCode("civicloud.driver.resize_running", A,
              "a running domain is not resized; it is once stopped", Surface.LOCAL),
    ErrorCode("civicloud.driver.bad_id", A,
              "a workload id that cannot name a file; the control plane sent something odd", Surface.LOCAL),
    ErrorCode("civicloud.cli.invalid_format", I, "give --output NAME.csv or NAME.pdf", Surface.LOCAL),
    ErrorCode("civicloud.cli.no_password", I, "no password given; pipe it in or give --password-file", Surface.LOCAL),
    ErrorCode("civicloud.demo.no_port", A, "no free TCP port on 127.0.0.1 for the demo", Surface.LOCAL),
    ErrorCode("civicloud.demo.agents_silent", A,
              "the demo's agents did not report their hosts in time; see agent.log in its data dir", Surface.LOCAL),
    ErrorCode("civicloud.server.open_api", I,
              "a server without users nor API token listens on loopback only; bootstrap a user first", Surface.LOCAL),
    ErrorCode("civicloud.server.tls_incomplete", I,
              "set both CIVICLOUD_TLS_CERTFILE and CIVICLOUD_TLS_KEYFILE, or neither", Surface.LOCAL),
    ErrorCode("civicloud.server.start_failed", A, "the control plane did not start; see its log", Surface.LOCAL),
    ErrorCode("civicloud.settings.invalid_database_url", I,
              "not a database URL civicloud supports; use sqlite:///path or postgresql+psycopg://…", Surface.LOCAL),
    ErrorCode("civicloud.store.needs_migration", C,
              "the database schema is not up to date; run 'civicloud db upgrade' or start with --migrate",
              Surface.LOCAL),
    ErrorCode("civicloud.scheduler.unknown_plugin", I,
              "a placement profile (CIVICLOUD_PLACEMENT_WEIGHTS) names an unknown plugin; see docs/placement.md",
              Surface.LOCAL),
    ErrorCode("civicloud.scheduler.invalid_weight", I,
              "a placement profile (CIVICLOUD_PLACEMENT_WEIGHTS) gives a scorer a weight outside (0, 100]",
              Surface.LOCAL),
    ErrorCode("civicloud.scheduler.no_scorer", I,
              "CIVICLOUD_PLACEMENT_WEIGHTS gives a class no scorer; give at least one with its weight",
              Surface.LOCAL),
    ErrorCode("civicloud.scheduler.invalid_argument", I,
              "a placement plugin was given an argument out of its bounds: a bug", Surface.LOCAL),
)

# Codes built from a value: the pattern and what it means.
FAMILIES: dict[str, str] = {
    "civicloud.http.<status>": "an error answer without a civicloud error body (a proxy's, or a status the API "
                               "does not map); its kind is the status's, as the client reads it",
}

SAMPLE_REFUSALS: dict[str, RefusalCode] = {r.code: r for r in (
    RefusalCode("civicloud.sample.refused", "refused without a more precise rule (the wire model's default; the "
                                            "control plane always names the rule)"),
    RefusalCode("civicloud.sample.unknown_host", "no host of that name on the agent's site"),
    RefusalCode("civicloud.sample.not_held", "the workload never held an allocation on that host"),
    RefusalCode("civicloud.sample.in_future",
                "dated more than 10 min ahead of the control plane's clock: check the host's NTP"),
    RefusalCode("civicloud.sample.before_allocation", "dated before the workload's allocation on that host began"),
    RefusalCode("civicloud.sample.out_of_order", "dated before a sample already stored of that workload on that host"),
    RefusalCode("civicloud.sample.vcpus_over_allocation", "more vCPUs than the allocation holds"),
    RefusalCode("civicloud.sample.memory_over_allocation", "more memory than the allocation holds"),
    RefusalCode("civicloud.sample.memory_used_over_memory", "more memory in use than the guest has, beyond QEMU's own"),
    RefusalCode("civicloud.sample.negative_counter", "a cumulative counter is negative"),
    RefusalCode("civicloud.sample.counter_beyond_lifetime",
                "a counter holds more than the guest could do since its allocation began"),
    RefusalCode("civicloud.sample.counter_burst",
                "a counter grew more since the previous sample than the guest could do"),
    RefusalCode("civicloud.sample.counter_reset_implausible",
                "a counter went down (a restart) to more than the guest could do since"),
)}

# Codes once released and no longer raised: never to be raised again nor reused for something else.
RETIRED: frozenset[str] = frozenset()


def error_table() -> str:
    """The tables of docs/api.md's "Errors" section, made from this module (``scripts/error_table.py`` writes
    them there; a test checks the page is current)."""
    api = sorted((e for e in CATALOGUE.values() if e.surface is Surface.API), key=lambda e: (e.http_status, e.code))
    others = sorted((e for e in CATALOGUE.values() if e.surface is not Surface.API),
                    key=lambda e: (e.surface.value, e.code))
    lines = ["| code | HTTP status | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{e.code}` | {e.http_status} | {e.summary} |" for e in api]
    lines += [f"| `{pattern}` | the status | {summary} |" for pattern, summary in FAMILIES.items()]
    lines += ["", ("Never answered by the API: raised by the HTTP client itself (`client`, in the CLI and the agent) "
                   "or on the machine of a command, the agent or the server's start-up (`local`); the CLI shows "
                   "`error [code]: message` and exits 1:"), "",
              "| code | raised by | kind | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{e.code}` | {e.surface.value} | {e.kind.value} | {e.summary} |" for e in others]
    lines += ["", ("Refused usage samples: not errors. `POST /api/v1/agent/usage` answers 200 and lists each "
                   "refused sample in `rejected` with its code (the rules are in [security.md](security.md)):"), "",
              "| code | refused when |", "| --- | --- |"]
    lines += [f"| `{r.code}` | {r.summary} |" for r in SAMPLE_REFUSALS.values()]
    return "\n".join(lines) + "\n"
