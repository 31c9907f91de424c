"""Sites, their certifications and offers, and agents' join tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from civicloud.domain import (
    CertificationKind,
    MemberCategory,
)
from civicloud.wire.common import Day, In, Name, Out, Ref


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
