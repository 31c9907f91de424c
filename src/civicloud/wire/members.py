"""Members and their agreements."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from civicloud.domain import (
    AgreementKind,
    MemberCategory,
    ServiceClass,
)
from civicloud.wire.common import OPEN_END, Day, In, Name, Out

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
