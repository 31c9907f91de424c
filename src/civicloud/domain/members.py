"""Members of a federation and the agreements that bind them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from stdnum.exceptions import ValidationError as _StdnumError
from stdnum.fr import siren as _siren
from stdnum.fr import siret as _siret

from civicloud.domain.capacity import RESOURCE_NAMES, RESOURCE_UNITS, Resources
from civicloud.errors import InvalidInput


class MemberCategory(str, Enum):
    COMMUNE = "commune"
    EPCI = "epci"
    DEPARTMENT = "department"
    REGION = "region"
    HOSPITAL = "hospital"
    SCHOOL = "school"
    PPP_COMPANY = "ppp_company"
    STARTUP = "startup"

    @property
    def is_public_body(self) -> bool:
        return self not in (MemberCategory.PPP_COMPANY, MemberCategory.STARTUP)


class AgreementKind(str, Enum):
    MUTUALISATION_CONVENTION = "mutualisation_convention"
    PPP = "ppp"
    SEM_SHAREHOLDER = "sem_shareholder"
    CLUSTER_MEMBER = "cluster_member"


def validate_siren(value: str) -> str:
    """Return the compact SIREN (9 digits, Luhn-checked) or raise InvalidInput."""
    try:
        return _siren.validate(value)
    except _StdnumError:
        raise InvalidInput(
            f"{value!r} is not a valid SIREN: 9 digits whose Luhn checksum is right "
            "(find it on annuaire-entreprises.data.gouv.fr)",
            code="civicloud.member.invalid_siren", field="siren") from None


def validate_siret(value: str, siren: str) -> str:
    """Return the compact SIRET (14 digits, Luhn-checked, starting with the SIREN)."""
    try:
        compact = _siret.validate(value)
    except _StdnumError:
        raise InvalidInput(
            f"{value!r} is not a valid SIRET: 14 digits whose Luhn checksum is right",
            code="civicloud.member.invalid_siret", field="siret") from None
    if not compact.startswith(siren):
        raise InvalidInput(
            f"SIRET {compact} does not belong to SIREN {siren}: its first 9 digits must be the SIREN",
            code="civicloud.member.invalid_siret", field="siret")
    return compact


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    siren: str
    siret: str | None
    category: MemberCategory
    created_at: datetime


@dataclass(frozen=True)
class Quota:
    """Limits of one service class; None means no limit."""

    vcpus: int | None = None
    memory_mib: int | None = None
    disk_gib: int | None = None
    workloads: int | None = None


@dataclass(frozen=True)
class Agreement:
    id: str
    member_id: str
    kind: AgreementKind
    valid_from: date
    valid_to: date | None
    # Per service class ("guaranteed", "harvest"); a class absent here has no limit.
    quotas: Mapping[str, Quota] = field(default_factory=dict)

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


def agreements_in_force(agreements: Iterable[Agreement], on: date) -> dict[str, Agreement]:
    """member -> the agreement that governs it on ``on``: among its agreements in force that day, the one that
    started last (then the greater id, so the choice never depends on the order they were read in). A member
    absent here has no agreement in force: no quota limits it, and the default price book applies."""
    governing: dict[str, Agreement] = {}
    for agreement in sorted((a for a in agreements if a.in_force(on)), key=lambda a: (a.valid_from, a.id)):
        governing[agreement.member_id] = agreement
    return governing


@dataclass(frozen=True)
class QuotaBreach:
    """The first limit of a quota that a request would pass."""

    field: str  # "harvest.vcpus", "harvest.workloads"
    limit: int
    used: int  # what the member uses of it now
    need: int  # what the request adds
    unit: str  # "vCPU", "MiB", "GiB", "workloads"


def quota_breach(quota: Quota | None, service_class: str, used: Resources, live: int,
                 need: Resources) -> QuotaBreach | None:
    """Whether ``need`` more (one more workload) passes a limit of ``quota``, given what is ``used`` by ``live``
    workloads of the class.

    The one quota rule, with two counting policies that its callers choose by what they pass: **at request
    time** ``used``/``live`` count every live workload, pending ones included (a burst of requests cannot
    slip past the limit before any is placed); **at placement** they count what placed workloads hold (a
    pending request holds nothing, so a burst above the limit places up to it)."""
    if quota is None:
        return None
    for name, unit in zip(RESOURCE_NAMES[:3], RESOURCE_UNITS[:3], strict=True):
        limit = getattr(quota, name)
        if limit is not None and getattr(used, name) + getattr(need, name) > limit:
            return QuotaBreach(f"{service_class}.{name}", limit, getattr(used, name), getattr(need, name), unit)
    if quota.workloads is not None and live + 1 > quota.workloads:
        return QuotaBreach(f"{service_class}.workloads", quota.workloads, live, 1, "workloads")
    return None


def check_agreement_dates(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise InvalidInput(
            f"valid_to ({valid_to}) is before valid_from ({valid_from}); an agreement must end after it starts",
            code="civicloud.agreement.invalid_period", field="valid_to")
