"""Models of the federation's resources: members, sites, hosts, offerings, workloads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_serializer

from civicloud.domain import (
    AgreementKind,
    CertificationKind,
    DesiredPower,
    GroupPolicy,
    MemberCategory,
    ServiceClass,
    WorkloadState,
)
from civicloud.domain.identity import Role
from civicloud.wire.common import OPEN_END, Day, In, Name, Out, Ref, ResourcesOut, Slug, Text

Digits = Annotated[str, Field(min_length=9, max_length=20, pattern=r"^[0-9 ]+$")]


class MemberCreate(In):
    name: Name
    siren: Digits = Field(description="9-digit SIREN, Luhn-checked")
    siret: Digits | None = Field(default=None,
                                 description="14-digit SIRET of the establishment, starting with the SIREN")
    category: MemberCategory


class MemberOut(Out):
    id: str
    name: str
    siren: str
    siret: str | None
    category: MemberCategory
    created_at: datetime


Limit = Annotated[int, Field(ge=0, le=(1 << 31) - 1)]


class QuotaIn(In):
    """Limits of one service class; an absent limit is no limit."""

    vcpus: Limit | None = None
    memory_mib: Limit | None = None
    disk_gib: Limit | None = None
    workloads: Limit | None = None


class AgreementCreate(In):
    kind: AgreementKind
    valid_from: Day
    valid_to: Day | None = Field(default=None, description=f"its last day; {OPEN_END}")
    quotas: dict[ServiceClass, QuotaIn] = Field(default_factory=dict,
                                                description="per service class; a class absent has no limit")


class AgreementOut(Out):
    id: str
    member_id: str
    kind: AgreementKind
    valid_from: date
    valid_to: date | None
    quotas: dict[ServiceClass, QuotaIn]


class CertificationIn(In):
    kind: CertificationKind
    expires_on: Day
    activities: list[Annotated[int, Field(ge=1, le=6)]] = Field(default_factory=list, max_length=6)


class CertificationAttest(In):
    """What the federation's operator read on the certificate it attests (its validity replaces the proposed)."""

    certificate_number: Name
    issuer: Name = Field(description="the certification body that issued the certificate")
    valid_from: Day
    expires_on: Day


class CertificationOut(Out):
    kind: CertificationKind
    expires_on: date
    activities: list[int]
    attested: bool = Field(description="attested by the federation's operator: only then does it count for placement")
    valid_from: date | None = None
    attested_at: datetime | None = None
    attested_by: str | None = None
    certificate_number: str | None = None
    issuer: str | None = None


class SiteCreate(In):
    member_id: Ref
    name: Name
    insee_code: Annotated[str, Field(min_length=5, max_length=5)] = Field(description="INSEE commune code, e.g. 93029")
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "Europe/Paris"
    certifications: list[CertificationIn] = Field(default_factory=list, max_length=20)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    carbon_g_per_kwh: float | None = Field(default=None, ge=0, le=2000,
                                           description="grid carbon intensity; unset: the federation's default")
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "FR"


class SiteOut(Out):
    id: str
    member_id: str
    name: str
    insee_code: str
    department: str
    region: str | None
    timezone: str
    certifications: list[CertificationOut]
    latitude: float | None
    longitude: float | None
    carbon_g_per_kwh: float | None
    country: str
    created_at: datetime


DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, local time")]
Percent = Annotated[float, Field(ge=0, le=100)]


class WindowIn(In):
    days: list[DayName] = Field(min_length=1, max_length=7)
    start: ClockTime
    end: ClockTime = Field(description="local time; before start: runs past midnight; equal: 24 hours")
    share_percent: Percent


class OfferSet(In):
    committed_percent: Percent = Field(default=0, description="lent at all times; the room for guaranteed work")
    default_percent: Percent = Field(default=0, description="lent when no window is open")
    windows: list[WindowIn] = Field(default_factory=list, max_length=50)
    borrower_categories: list[MemberCategory] = Field(default_factory=list,
                                                      description="who may borrow; empty: every category")
    reclaim_notice_s: int = Field(default=30, ge=0, le=7 * 86400)


class OfferOut(Out):
    site_id: str
    host_id: str | None = Field(description="set when this is a host's own offer, overriding its site's")
    committed_percent: float
    default_percent: float
    windows: list[WindowIn]
    borrower_categories: list[MemberCategory]
    reclaim_notice_s: int
    updated_at: datetime | None = Field(description="unset: the lender has not made an offer; nothing is lent")
    lent_now_percent: float
    next_change_at: datetime | None
    timeline: list[list[float]] = Field(description="7 days (Monday first) × 24 hours: share lent at each hour")


class JoinTokenOut(Out):
    site_id: str
    token: str = Field(description="one-time token; give it to the site's agent (--join-token); shown only once")
    expires_at: datetime


class RatiosOut(Out):
    cpu: float
    ram: float
    disk: float


class HostReserveSet(In):
    """Set by the host's owner: what civicloud never lends, and the allocation ratios of the rest."""

    reserved_vcpus: int = Field(default=0, ge=0, le=100_000)
    reserved_memory_mib: int = Field(default=0, ge=0, le=(1 << 31) - 1)
    reserved_disk_gib: int = Field(default=0, ge=0, le=1 << 30)
    reserved_gpus: int = Field(default=0, ge=0, le=1024)
    cpu_ratio: float = Field(default=4.0, gt=0, le=64)
    ram_ratio: float = Field(default=1.0, gt=0, le=64)
    disk_ratio: float = Field(default=1.0, gt=0, le=64)


class HostPowerSet(In):
    """The host's power draw, for showback's energy: linear between idle and full CPU load."""

    idle_watts: float = Field(ge=0, le=100_000)
    max_watts: float = Field(ge=0, le=100_000)


class HostOut(Out):
    id: str
    site_id: str
    name: str
    libvirt_uri: str
    total: ResourcesOut
    reserved: ResourcesOut
    ratios: RatiosOut
    lend_share_percent: float = Field(description="share lent right now, from the host's or its site's offer")
    allocated: ResourcesOut
    allocated_guaranteed: ResourcesOut
    owner_used: ResourcesOut = Field(description="what the owner's own VMs hold, as last reported")
    free: ResourcesOut = Field(description="lent now, minus what is allocated")
    cpu_busy_percent: float | None = Field(default=None, description="the whole host's CPU load over its "
                                           "agent's last heartbeat interval, guests included")
    idle_watts: float = Field(default=120.0, description="power at idle (showback's energy model)")
    max_watts: float = Field(default=350.0, description="power at full CPU load")
    generation: int
    last_seen_at: datetime | None


class OfferingCreate(In):
    name: Slug
    description: Text = ""
    vcpus: int = Field(ge=1, le=512)
    memory_mib: int = Field(ge=16, le=4 * 1024 * 1024)
    disk_gib: int = Field(default=0, ge=0, le=64 * 1024)
    gpus: int = Field(default=0, ge=0, le=64)
    service_class: ServiceClass = ServiceClass.HARVEST
    hds_activities: list[Annotated[int, Field(ge=1, le=6)]] = Field(
        default_factory=list, max_length=6, description="HDS activities the hosting site must hold (e-health)")
    traits: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=4, description="iso27001, secnumcloud")


class OfferingOut(Out):
    id: str
    name: str
    description: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    gpus: int
    service_class: ServiceClass
    hds_activities: list[int]
    traits: list[str]


Code = Annotated[str, Field(min_length=1, max_length=3, pattern=r"^[0-9A-Z]{1,3}$")]


class ResidencyIn(In):
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(default_factory=list, max_length=30)
    regions: list[Code] = Field(default_factory=list, max_length=30, description="INSEE region codes, e.g. 11")
    departments: list[Code] = Field(default_factory=list, max_length=101, description="e.g. 93, 2A, 971")


class PlacementGroupCreate(In):
    member_id: Ref
    name: Name
    policy: GroupPolicy


class PlacementGroupOut(Out):
    id: str
    member_id: str
    name: str
    policy: GroupPolicy
    created_at: datetime


class WorkloadCreate(In):
    member_id: Ref = Field(description="the borrowing member (id or name)")
    offering_id: Ref = Field(description="id or name of a catalogue offering")
    name: Name
    group: Ref | None = Field(default=None, description="a placement group of the member (id or name)")
    residency: ResidencyIn | None = None


class WorkloadResize(In):
    offering_id: Ref = Field(description="id or name of the offering to resize to (same service class)")


class PlacementReason(Out):
    filter: str
    code: str
    text: str
    hosts: int


class PlacementOut(Out):
    summary: str
    reasons: list[PlacementReason]
    decided_at: datetime


class WorkloadOut(Out):
    id: str
    member_id: str
    offering_id: str
    name: str
    state: WorkloadState
    desired: DesiredPower
    host_id: str | None = Field(description="the host it runs on: shown to the host's lender and the federation's "
                                "staff only (a host is its lender's business); null for the borrower")
    site_id: str | None = Field(default=None, description="the lending site it runs at, once placed")
    site_name: str | None = Field(default=None, description="the lending site's name")
    lender_id: str | None = Field(default=None, description="the member lending the capacity")
    lender_name: str | None = Field(default=None, description="the lending member's name")
    message: str = Field(description="why the workload is where it is, e.g. the last placement decision")
    service_class: ServiceClass
    group_id: str | None
    residency: ResidencyIn
    placement: PlacementOut | None = Field(description="the last placement decision while it was pending")
    reboot_requested_at: datetime | None = Field(default=None, description="the last reboot asked for")
    evict_deadline: datetime | None = Field(default=None, description="while evicting: when its host's agent "
                                            "stops it, unless it is re-placed elsewhere first")
    created_at: datetime
    updated_at: datetime


class UsageSampleOut(Out):
    """One measurement of a guest by its host's agent; counters are cumulative since the domain started."""

    id: str
    workload_id: str
    host_id: str
    site_id: str
    sampled_at: datetime
    received_at: datetime
    vcpus: int
    cpu_time_ns: int
    memory_mib: int
    memory_used_mib: int | None
    disk_read_bytes: int
    disk_write_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int


class AuditEntryOut(Out):
    seq: int
    at: datetime
    actor: str
    member_id: str | None
    role: str
    action: str
    target: str
    outcome: int = Field(description="the HTTP status answered; 200 for a change the control plane made by itself")
    source: str = Field(description="the client's address, or 'control-plane'")
    prev_hash: str
    hash: str


class AuditVerifyOut(Out):
    entries: int
    intact: bool
    first_break: int | None = None
    reason: str | None = None


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
