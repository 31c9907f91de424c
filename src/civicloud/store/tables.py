"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal, kept as text (SQLite has no exact decimal type; PostgreSQL's would do, but one
    representation on both keeps the stores identical). Used for prices and percentages, never summed in SQL:
    amounts are integer cents."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: object) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: object) -> Decimal | None:
        return None if value is None else Decimal(value)


def _id() -> Column[str]:
    return Column("id", String(36), primary_key=True)


members = Table(
    "members", metadata,
    _id(),
    Column("name", String(120), nullable=False, unique=True),
    Column("siren", String(9), nullable=False),
    Column("siret", String(14), nullable=True),
    Column("category", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

agreements = Table(
    "agreements", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("valid_from", Date(), nullable=False),
    Column("valid_to", Date(), nullable=True),
    # {"guaranteed": {"vcpus": 64, "memory_mib": …, "disk_gib": …, "workloads": …}, "harvest": {…}}
    Column("quotas", JSON(), nullable=True),
)

sites = Table(
    "sites", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("insee_code", String(5), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("latitude", Float(), nullable=True),
    Column("longitude", Float(), nullable=True),
    Column("carbon_g_per_kwh", Float(), nullable=True),
    Column("country", String(2), nullable=False, server_default=text("'FR'")),
    # Names are unique among one member's sites only: a federation-wide rule would tell a member, by a
    # refusal, the names of other members' sites.
    UniqueConstraint("member_id", "name", name="uq_sites_member_id_name"),
)

# What a site lends (host_id NULL), or one of its hosts when the lender overrides the site's offer.
# A site without a row lends nothing: lending is the lender's decision.
offers = Table(
    "offers", metadata,
    _id(),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False),
    Column("host_id", String(36), ForeignKey("hosts.id"), nullable=True),
    Column("committed_percent", Float(), nullable=False),
    Column("default_percent", Float(), nullable=False),
    # [{"days": [0..6], "start": "HH:MM", "end": "HH:MM", "share_percent": x}]
    Column("windows", JSON(), nullable=False),
    Column("borrower_categories", String(200), nullable=False, server_default=text("''")),
    Column("reclaim_notice_s", Integer(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("uq_offers_site_id_site_wide", "site_id", unique=True,
          sqlite_where=text("host_id IS NULL"), postgresql_where=text("host_id IS NULL")),
    Index("uq_offers_host_id", "host_id", unique=True,
          sqlite_where=text("host_id IS NOT NULL"), postgresql_where=text("host_id IS NOT NULL")),
)

certifications = Table(
    "certifications", metadata,
    _id(),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("activities", String(32), nullable=False, server_default=text("''")),  # "1,2,5"
    Column("expires_on", Date(), nullable=False),
    # Proposed by the site's member; counts for placement once the federation's operator has attested it
    # (attested_at set), with the certificate's number, issuer and validity.
    Column("valid_from", Date(), nullable=True),
    Column("attested_at", UtcDateTime(), nullable=True),
    Column("attested_by", String(120), nullable=True),
    Column("certificate_number", String(120), nullable=True),
    Column("issuer", String(200), nullable=True),
    UniqueConstraint("site_id", "kind", name="uq_certifications_site_id_kind"),  # one of each kind per site
)

hosts = Table(
    "hosts", metadata,
    _id(),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("libvirt_uri", String(500), nullable=False),
    Column("vcpus", Integer(), nullable=False),
    Column("memory_mib", Integer(), nullable=False),
    Column("disk_gib", Integer(), nullable=False),
    Column("gpus", Integer(), nullable=False, server_default=text("0")),
    Column("reserved_vcpus", Integer(), nullable=False, server_default=text("0")),
    Column("reserved_memory_mib", Integer(), nullable=False, server_default=text("0")),
    Column("reserved_disk_gib", Integer(), nullable=False, server_default=text("0")),
    Column("cpu_ratio", Float(), nullable=False, server_default=text("4.0")),
    Column("ram_ratio", Float(), nullable=False, server_default=text("1.0")),
    Column("disk_ratio", Float(), nullable=False, server_default=text("1.0")),
    # Sum of open allocations, kept with the generation so a claim is one compare-and-swap.
    Column("allocated_vcpus", Integer(), nullable=False, server_default=text("0")),
    Column("allocated_memory_mib", Integer(), nullable=False, server_default=text("0")),
    Column("allocated_disk_gib", Integer(), nullable=False, server_default=text("0")),
    Column("generation", Integer(), nullable=False, server_default=text("0")),
    Column("last_seen_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("reserved_gpus", Integer(), nullable=False, server_default=text("0")),
    Column("allocated_gpus", Integer(), nullable=False, server_default=text("0")),
    # The guaranteed part of the allocations: it may use only the offer's committed share.
    Column("guaranteed_vcpus", Integer(), nullable=False, server_default=text("0")),
    Column("guaranteed_memory_mib", Integer(), nullable=False, server_default=text("0")),
    Column("guaranteed_disk_gib", Integer(), nullable=False, server_default=text("0")),
    Column("guaranteed_gpus", Integer(), nullable=False, server_default=text("0")),
    # The owner's own VMs (not civicloud's), as the agent last reported them.
    Column("owner_vcpus_used", Integer(), nullable=False, server_default=text("0")),
    Column("owner_memory_mib_used", Integer(), nullable=False, server_default=text("0")),
    # The host's CPU busy time over the agent's last heartbeat interval (getCPUStats), all guests included.
    Column("cpu_busy_percent", Float(), nullable=True),
    # Its linear power model (W at idle and at full load), for showback's energy figures.
    Column("idle_watts", Float(), nullable=False, server_default=text("120")),
    Column("max_watts", Float(), nullable=False, server_default=text("350")),
    UniqueConstraint("site_id", "name", name="uq_hosts_site_id_name"),
    # Moves with every write to the row (the generation moves only with its capacity): the control loop re-reads
    # a host whose revision moved since its last pass, and keeps the others (services/snapshots.ContextCache).
    # Each write sets it to one more than before and at least the database's clock in µs, so that the hosts that
    # moved since a pass are a range of revisions (repositories.hosts.next_revision).
    Column("revision", BigInteger(), nullable=False, server_default=text("0")),
    # The host's address on the sites' underlay, where the other hosts send its networks' VXLAN traffic; NULL
    # while its agent does not program tenant networks (agent/netplan.py).
    Column("tunnel_ip", String(15), nullable=True),
    # What its agent last applied of the tenant networks: {"networks", "ports", "digest", "errors"}; NULL as above.
    Column("data_plane", JSON(), nullable=True),
)

offerings = Table(
    "offerings", metadata,
    _id(),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text(), nullable=False, server_default=text("''")),
    Column("vcpus", Integer(), nullable=False),
    Column("memory_mib", Integer(), nullable=False),
    Column("disk_gib", Integer(), nullable=False),
    Column("service_class", String(16), nullable=False),
    Column("gpus", Integer(), nullable=False, server_default=text("0")),
    Column("hds_activities", String(16), nullable=False, server_default=text("''")),  # "1,2,3"
    Column("traits", String(100), nullable=False, server_default=text("''")),  # "iso27001,secnumcloud"
)

placement_groups = Table(
    "placement_groups", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("member_id", "name", name="uq_placement_groups_member_id_name"),
)

workloads = Table(
    "workloads", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("offering_id", String(36), ForeignKey("offerings.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("state", String(16), nullable=False),
    Column("desired", String(16), nullable=False),
    Column("host_id", String(36), ForeignKey("hosts.id"), nullable=True, index=True),
    Column("message", Text(), nullable=False, server_default=text("''")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("service_class", String(16), nullable=False, server_default=text("'harvest'")),
    Column("group_id", String(36), ForeignKey("placement_groups.id"), nullable=True, index=True),
    Column("residency", JSON(), nullable=True),  # {"countries": [...], "regions": [...], "departments": [...]}
    # The last placement decision, for the explanation a pending workload shows.
    Column("placement_summary", Text(), nullable=True),
    Column("placement_reasons", JSON(), nullable=True),  # [[filter, code, text, hosts], …]
    Column("placement_decided_at", UtcDateTime(), nullable=True),
    # While evicting: when the agent stops it (now + the offer's reclaim notice, at the decision).
    Column("evict_deadline", UtcDateTime(), nullable=True),
    # The last reboot its member asked for: the agent power-cycles a domain running since before it.
    Column("reboot_requested_at", UtcDateTime(), nullable=True),
    Index("ix_workloads_state_created_at", "state", "created_at"),
    # A member's live workloads have distinct names; deleted ones free their name.
    Index("uq_workloads_member_id_name_live", "member_id", "name", unique=True,
          sqlite_where=text("state != 'deleted'"), postgresql_where=text("state != 'deleted'")),
)

# Tenant networks (domain/networks.py). A network is one segment: its VNI is unique in the federation, the
# compare-and-swap that makes two replicas' allocations safe. Subnets are kept with it, as written at creation:
# [{"cidr": "10.0.0.0/24", "gateway": "10.0.0.1", "dns": ["10.0.0.2"]}].
networks = Table(
    "networks", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("vni", Integer(), nullable=False, unique=True),
    Column("subnets", JSON(), nullable=False),
    Column("internet_egress", Integer(), nullable=False, server_default=text("0")),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("member_id", "name", name="uq_networks_member_id_name"),
)

security_groups = Table(
    "security_groups", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("description", Text(), nullable=False, server_default=text("''")),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("member_id", "name", name="uq_security_groups_member_id_name"),
)

security_group_rules = Table(
    "security_group_rules", metadata,
    _id(),
    Column("group_id", String(36), ForeignKey("security_groups.id"), nullable=False, index=True),
    Column("direction", String(8), nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("port_min", Integer(), nullable=True),
    Column("port_max", Integer(), nullable=True),
    Column("remote_cidr", String(18), nullable=True),
    Column("remote_group_id", String(36), ForeignKey("security_groups.id"), nullable=True, index=True),
    Column("position", Integer(), nullable=False),  # the order they were added in
    # Two rules added at once to one group cannot take the same place: the second is refused (409), so the
    # group's limit holds too.
    UniqueConstraint("group_id", "position", name="uq_security_group_rules_group_id_position"),
)

allocations = Table(
    "allocations", metadata,
    _id(),
    Column("workload_id", String(36), ForeignKey("workloads.id"), nullable=False, index=True),
    Column("host_id", String(36), ForeignKey("hosts.id"), nullable=False, index=True),
    Column("vcpus", Integer(), nullable=False),
    Column("memory_mib", Integer(), nullable=False),
    Column("disk_gib", Integer(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("released_at", UtcDateTime(), nullable=True),
    Column("gpus", Integer(), nullable=False, server_default=text("0")),
    Column("service_class", String(16), nullable=False, server_default=text("'harvest'")),
    # At most one open allocation per workload, enforced by the database.
    Index("uq_allocations_workload_id_open", "workload_id", unique=True,
          sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
)

# What agents measured of each guest, append-only. The id is the agent's: a sample sent twice (an agent
# that did not see the acknowledgement) is stored once. Counters are cumulative since the domain started.
usage_samples = Table(
    "usage_samples", metadata,
    _id(),
    Column("workload_id", String(36), ForeignKey("workloads.id"), nullable=False),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),  # the borrower
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),  # the lender's site
    Column("host_id", String(36), ForeignKey("hosts.id"), nullable=False),
    Column("sampled_at", UtcDateTime(), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("vcpus", Integer(), nullable=False),
    Column("cpu_time_ns", BigInteger(), nullable=False),
    Column("memory_mib", Integer(), nullable=False),  # what the guest has (its balloon's current size)
    Column("memory_used_mib", Integer(), nullable=True),  # what it uses, where the balloon reports it
    Column("disk_read_bytes", BigInteger(), nullable=False),
    Column("disk_write_bytes", BigInteger(), nullable=False),
    Column("net_rx_bytes", BigInteger(), nullable=False),
    Column("net_tx_bytes", BigInteger(), nullable=False),
    Index("ix_usage_samples_workload_id_sampled_at", "workload_id", "sampled_at"),
)

# Metering: one row per allocation and clock hour (UTC), append-only; the id derives from both, so rolling
# an hour up again finds its rows already there. See domain/metering.py.
usage_records = Table(
    "usage_records", metadata,
    _id(),
    Column("allocation_id", String(36), nullable=False),
    Column("workload_id", String(36), nullable=False),
    Column("borrower_id", String(36), nullable=False),
    Column("lender_id", String(36), nullable=False),
    Column("site_id", String(36), nullable=False),
    Column("host_id", String(36), nullable=False),
    Column("offering_id", String(36), nullable=False),
    Column("service_class", String(16), nullable=False),
    Column("hour", UtcDateTime(), nullable=False),
    Column("seconds", Integer(), nullable=False),
    Column("vcpu_seconds", BigInteger(), nullable=False),
    Column("memory_mib_seconds", BigInteger(), nullable=False),
    Column("disk_gib_seconds", BigInteger(), nullable=False),
    Column("gpu_seconds", BigInteger(), nullable=False),
    Column("cpu_time_ns", BigInteger(), nullable=True),
    Column("memory_used_mib", Integer(), nullable=True),
    Index("ix_usage_records_hour", "hour"),
    Index("ix_usage_records_borrower_id_hour", "borrower_id", "hour"),
    Index("ix_usage_records_lender_id_hour", "lender_id", "hour"),
)

# How far the hourly roll-up has gone: hours before this instant have their usage records.
metering_state = Table(
    "metering_state", metadata,
    Column("id", Integer(), primary_key=True),
    Column("rolled_up_until", UtcDateTime(), nullable=False),
)

price_books = Table(
    "price_books", metadata,
    _id(),
    Column("name", String(120), nullable=False),
    Column("valid_from", Date(), nullable=False),
    Column("agreement_kind", String(32), nullable=True),  # NULL: any
    Column("member_category", String(32), nullable=True),
    Column("service_class", String(16), nullable=True),
    Column("vcpu_hour", DecimalText(), nullable=False),
    Column("ram_gib_hour", DecimalText(), nullable=False),
    Column("disk_gib_month", DecimalText(), nullable=False),
    Column("gpu_hour", DecimalText(), nullable=False),
    Column("desktop_month", DecimalText(), nullable=False),
    Column("ehealth_month", DecimalText(), nullable=False),
    Column("operator_fee_percent", DecimalText(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# A billing run closes a period (a calendar month, UTC): its lines and documents never change afterwards.
billing_runs = Table(
    "billing_runs", metadata,
    _id(),
    Column("period", String(7), nullable=False, unique=True),  # "2026-11"
    Column("created_at", UtcDateTime(), nullable=False),
    Column("charged_cents", BigInteger(), nullable=False),
    Column("fees_cents", BigInteger(), nullable=False),
    Column("own_use_seconds", BigInteger(), nullable=False),  # lenders' use of their own hosts: metered, not billed
)

billing_lines = Table(
    "billing_lines", metadata,
    _id(),
    Column("run_id", String(36), ForeignKey("billing_runs.id"), nullable=False, index=True),
    Column("borrower_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("lender_id", String(36), ForeignKey("members.id"), nullable=False),
    Column("workload_id", String(36), nullable=False),
    Column("offering_id", String(36), nullable=False),
    Column("service_class", String(16), nullable=False),
    Column("price_book_id", String(36), ForeignKey("price_books.id"), nullable=False),
    Column("seconds", BigInteger(), nullable=False),
    Column("vcpu_seconds", BigInteger(), nullable=False),
    Column("memory_mib_seconds", BigInteger(), nullable=False),
    Column("disk_gib_seconds", BigInteger(), nullable=False),
    Column("gpu_seconds", BigInteger(), nullable=False),
    Column("amount_cents", BigInteger(), nullable=False),
    Column("fee_cents", BigInteger(), nullable=False),
)

# Invoices (what a member borrowed), statements (what it lent, minus the fee) and credit notes: documents,
# numbered, never edited; a correction is a credit note.
billing_documents = Table(
    "billing_documents", metadata,
    _id(),
    Column("run_id", String(36), ForeignKey("billing_runs.id"), nullable=False, index=True),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # invoice | statement | credit_note
    Column("number", String(32), nullable=False, unique=True),
    Column("issued_on", Date(), nullable=False),
    Column("total_cents", BigInteger(), nullable=False),
    Column("fees_cents", BigInteger(), nullable=False),
    Column("corrects_id", String(36), ForeignKey("billing_documents.id"), nullable=True),
    Column("reason", Text(), nullable=False, server_default=text("''")),
)

# People: the operator's staff (member_id NULL) and members' staff. Passwords are argon2 hashes.
users = Table(
    "users", metadata,
    _id(),
    Column("login", String(120), nullable=False, unique=True),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=True, index=True),
    Column("password_hash", String(200), nullable=False),
    Column("roles", String(200), nullable=False),  # "federation_admin,auditor"
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime(), nullable=True),
)

# API tokens: shown once, stored as a SHA-256 hash, scoped to a subset of their user's roles, expiring.
api_tokens = Table(
    "api_tokens", metadata,
    _id(),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("roles", String(200), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
)

# The audit log, hash-chained (domain/audit.py); audit_head holds the last entry, so appending is one
# compare-and-swap and the chain never forks between concurrent requests or replicas.
audit_log = Table(
    "audit_log", metadata,
    Column("seq", Integer(), primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("member_id", String(36), nullable=True),
    Column("role", String(32), nullable=False),
    Column("action", String(200), nullable=False),
    Column("target", String(500), nullable=False),
    Column("outcome", Integer(), nullable=False),
    Column("source", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
)

audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer(), primary_key=True),
    Column("seq", Integer(), nullable=False),
    Column("hash", String(64), nullable=False),
)

# A workload's NICs. A live port (released_at NULL) holds its address and its MAC: the partial unique indexes
# are the IPAM's compare-and-swap (two replicas giving the same address: the second insert finds it taken).
# The address is kept as its 32-bit number, so ports sort and compare as addresses do.
ports = Table(
    "ports", metadata,
    _id(),
    Column("network_id", String(36), ForeignKey("networks.id"), nullable=False, index=True),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("workload_id", String(36), ForeignKey("workloads.id"), nullable=False, index=True),
    Column("position", Integer(), nullable=False),  # the NIC's order in the workload (eth0, eth1, …)
    Column("mac", String(17), nullable=False),
    Column("ip", BigInteger(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("released_at", UtcDateTime(), nullable=True),
    Index("uq_ports_network_id_ip_live", "network_id", "ip", unique=True,
          sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
    Index("uq_ports_mac_live", "mac", unique=True,
          sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
)

port_security_groups = Table(
    "port_security_groups", metadata,
    Column("port_id", String(36), ForeignKey("ports.id"), primary_key=True),
    Column("group_id", String(36), ForeignKey("security_groups.id"), primary_key=True, index=True),
    Column("position", Integer(), nullable=False),
)

# Idempotency-Key: the first answer to a create, replayed to a retry with the same key and body.
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("principal", String(120), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request", String(300), nullable=False),  # "POST /api/v1/workloads"
    Column("body_sha256", String(64), nullable=False),
    Column("status", Integer(), nullable=True),  # NULL while the first request is still being handled
    Column("response", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Change counters of what the control loop caches between passes: "catalogue" moves with every write to members,
# agreements, sites and their certifications, offers, offerings and placement groups (operators' changes: rare).
revisions = Table(
    "revisions", metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger(), nullable=False),
)

# Rate limits (services/rate_limits.py): how many checks a key — "addr:<client address>", "login:<login>",
# "token:<API token id>" — passed in one fixed window; a sliding window is weighted over the current and the
# previous one (domain/rate_limits.py). Shared by every replica; a row is swept once it has expired (two windows
# after its start), so the table holds at most two rows per key used in the last two windows.
rate_limits = Table(
    "rate_limits", metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", UtcDateTime(), primary_key=True),
    Column("count", Integer(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
)

join_tokens = Table(
    "join_tokens", metadata,
    _id(),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

site_credentials = Table(
    "site_credentials", metadata,
    _id(),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("agent_name", String(120), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)
