"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
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
)

sites = Table(
    "sites", metadata,
    _id(),
    Column("member_id", String(36), ForeignKey("members.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("insee_code", String(5), nullable=False),
    Column("timezone", String(64), nullable=False),
    # The offer, first cut: the share of each host lent. Nothing is lent until the lender says so.
    Column("offer_share_percent", Float(), nullable=False, server_default=text("0")),
    Column("offer_updated_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

certifications = Table(
    "certifications", metadata,
    _id(),
    Column("site_id", String(36), ForeignKey("sites.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("activities", String(32), nullable=False, server_default=text("''")),  # "1,2,5"
    Column("expires_on", Date(), nullable=False),
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
    UniqueConstraint("site_id", "name", name="uq_hosts_site_id_name"),
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
    Index("ix_workloads_state_created_at", "state", "created_at"),
    # A member's live workloads have distinct names; deleted ones free their name.
    Index("uq_workloads_member_id_name_live", "member_id", "name", unique=True,
          sqlite_where=text("state != 'deleted'"), postgresql_where=text("state != 'deleted'")),
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
    # At most one open allocation per workload, enforced by the database.
    Index("uq_allocations_workload_id_open", "workload_id", unique=True,
          sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
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


def utcnow() -> datetime:
    return datetime.now(UTC)
