"""Sites (a member's server room) and their certifications."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from civicloud.errors import InvalidInput

# INSEE commune code: two digits of département (2A/2B for Corsica), three of commune.
# [0-9], not \d, which would also take Arabic-Indic or full-width digits; \Z, not $, which allows a final newline.
_INSEE_RE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}\Z")
HDS_ACTIVITIES = frozenset(range(1, 7))


class CertificationKind(str, Enum):
    HDS = "hds"  # Hébergeur de Données de Santé, activities 1 to 6
    ISO27001 = "iso27001"
    SECNUMCLOUD = "secnumcloud"


def validate_insee_code(value: str) -> str:
    code = value.strip().upper()
    if not _INSEE_RE.match(code):
        raise InvalidInput(
            f"{value!r} is not an INSEE commune code: five characters, e.g. 93029 for Drancy or 2A004 for Ajaccio",
            code="civicloud.site.invalid_insee_code", field="insee_code")
    return code


def validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{value!r} is not an IANA time zone; use a name such as Europe/Paris",
            code="civicloud.site.invalid_timezone", field="timezone") from None
    # "localtime", "Factory" and the posix/ and right/ copies are in the database but name no place.
    if value not in available_timezones() or value in ("localtime", "Factory", "posixrules") \
            or value.startswith(("posix/", "right/")):
        raise InvalidInput(f"{value!r} is not an IANA time zone; use a name such as Europe/Paris",
                           code="civicloud.site.invalid_timezone", field="timezone")
    return value


@dataclass(frozen=True)
class Certification:
    kind: CertificationKind
    expires_on: date
    activities: frozenset[int] = field(default_factory=frozenset)

    def valid_on(self, day: date) -> bool:
        return day <= self.expires_on


def check_certification(cert: Certification) -> None:
    if cert.kind is CertificationKind.HDS:
        if not cert.activities or not cert.activities <= HDS_ACTIVITIES:
            raise InvalidInput(
                "an HDS certification lists the activities it covers, each from 1 to 6",
                code="civicloud.site.invalid_certification", field="certifications")
    elif cert.activities:
        raise InvalidInput(f"only HDS certifications have activities, not {cert.kind.value}",
                           code="civicloud.site.invalid_certification", field="certifications")


@dataclass(frozen=True)
class Site:
    id: str
    member_id: str
    name: str
    insee_code: str
    timezone: str
    certifications: tuple[Certification, ...]
    created_at: datetime
    latitude: float | None = None
    longitude: float | None = None
    # Grid carbon intensity of the site's electricity; None: the federation's national default.
    carbon_g_per_kwh: float | None = None
    country: str = "FR"
