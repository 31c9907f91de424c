"""Models of the federation's resources: members, sites, hosts, offerings, workloads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from civicloud.domain import AgreementKind, CertificationKind, DesiredPower, MemberCategory, ServiceClass, WorkloadState
from civicloud.wire.common import Id, In, Name, Out, ResourcesOut, Slug, Text

Digits = Annotated[str, Field(min_length=9, max_length=20, pattern=r"^[0-9 ]+$")]


class MemberCreate(In):
    name: Name
    siren: Digits = Field(description="9-digit SIREN, Luhn-checked")
    siret: Digits | None = Field(default=None, description="14-digit SIRET of the establishment, starting with the SIREN")
    category: MemberCategory


class MemberOut(Out):
    id: str
    name: str
    siren: str
    siret: str | None
    category: MemberCategory
    created_at: datetime


class AgreementCreate(In):
    kind: AgreementKind
    valid_from: date
    valid_to: date | None = None


class AgreementOut(Out):
    id: str
    member_id: str
    kind: AgreementKind
    valid_from: date
    valid_to: date | None


class CertificationIn(In):
    kind: CertificationKind
    expires_on: date
    activities: list[Annotated[int, Field(ge=1, le=6)]] = Field(default_factory=list, max_length=6)


class CertificationOut(Out):
    kind: CertificationKind
    expires_on: date
    activities: list[int]


class SiteCreate(In):
    member_id: Id
    name: Name
    insee_code: Annotated[str, Field(min_length=5, max_length=5)] = Field(description="INSEE commune code, e.g. 93029")
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "Europe/Paris"
    certifications: list[CertificationIn] = Field(default_factory=list, max_length=20)


class SiteOut(Out):
    id: str
    member_id: str
    name: str
    insee_code: str
    timezone: str
    certifications: list[CertificationOut]
    offer_share_percent: float
    created_at: datetime


class OfferSet(In):
    share_percent: float = Field(ge=0, le=100, description="share of each host's capacity above the reserve that is lent")


class OfferOut(Out):
    site_id: str
    share_percent: float
    updated_at: datetime


class JoinTokenOut(Out):
    site_id: str
    token: str = Field(description="one-time token; give it to the site's agent (--join-token); shown only once")
    expires_at: datetime


class RatiosOut(Out):
    cpu: float
    ram: float
    disk: float


class HostOut(Out):
    id: str
    site_id: str
    name: str
    libvirt_uri: str
    total: ResourcesOut
    reserved: ResourcesOut
    ratios: RatiosOut
    lend_share_percent: float
    allocated: ResourcesOut
    free: ResourcesOut
    generation: int
    last_seen_at: datetime | None


class OfferingCreate(In):
    name: Slug
    description: Text = ""
    vcpus: int = Field(ge=1, le=512)
    memory_mib: int = Field(ge=16, le=4 * 1024 * 1024)
    disk_gib: int = Field(default=0, ge=0, le=64 * 1024)
    service_class: ServiceClass = ServiceClass.HARVEST


class OfferingOut(Out):
    id: str
    name: str
    description: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    service_class: ServiceClass


class WorkloadCreate(In):
    member_id: Id = Field(description="the borrowing member")
    offering_id: Id = Field(description="id or name of a catalogue offering")
    name: Name


class WorkloadOut(Out):
    id: str
    member_id: str
    offering_id: str
    name: str
    state: WorkloadState
    desired: DesiredPower
    host_id: str | None
    message: str = Field(description="why the workload is where it is, e.g. the last placement decision")
    created_at: datetime
    updated_at: datetime
