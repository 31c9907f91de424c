"""Sites (a member's server room) and their certifications."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from civicloud.errors import InvalidInput

# INSEE commune code: two digits of département (2A/2B for Corsica), three of commune.
# [0-9], not \d, which would also take Arabic-Indic or full-width digits; \Z, not $, which allows a final newline.
_INSEE_RE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}\Z")
# The official list the codes are checked against: the COG of this millésime, shipped as package data
# (made by scripts/refresh-communes.sh from Etalab's @etalab/decoupage-administratif, refreshed yearly).
COG_MILLESIME = 2026
_COMMUNES = "data/communes.tsv.gz"
HDS_ACTIVITIES = frozenset(range(1, 7))


class CertificationKind(str, Enum):
    HDS = "hds"  # Hébergeur de Données de Santé, activities 1 to 6
    ISO27001 = "iso27001"
    SECNUMCLOUD = "secnumcloud"


@lru_cache(maxsize=1)
def communes() -> dict[str, str]:
    """INSEE code -> name of every commune, municipal arrondissement, and delegated or associated commune
    of the official list (read once, on first use: about 37,000 codes)."""
    raw = resources.files("civicloud.domain").joinpath(_COMMUNES).read_bytes()
    names: dict[str, str] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        code, _, rest = line.partition("\t")
        if line.startswith("#") or code == "code":
            continue
        kind, _, name = rest.partition("\t")
        # A commune nouvelle's chef-lieu is listed twice (current and delegated): keep the current name.
        if code not in names or kind == "commune-actuelle":
            names[code] = name
    return names


def validate_insee_code(value: str) -> str:
    code = value.strip().upper()
    if not _INSEE_RE.match(code):
        raise InvalidInput(
            f"{value!r} is not an INSEE commune code: five characters, e.g. 93029 for Drancy or 2A004 for Ajaccio",
            code="civicloud.site.invalid_insee_code", field="insee_code")
    if code not in communes():
        raise InvalidInput(
            f"{code} is not in the {COG_MILLESIME} official list of INSEE commune codes (COG); give the code of the "
            "site's commune, e.g. 93029 for Drancy (not its postcode, 93700)",
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
    """A certification a site claims. Its member only *proposes* it (at the site's creation, or later);
    it counts for placement once the federation's operator has attested it, having seen the certificate:
    its number, its issuer (the certification body) and its validity, which then replace what was proposed."""

    kind: CertificationKind
    expires_on: date
    activities: frozenset[int] = field(default_factory=frozenset)
    valid_from: date | None = None
    attested_at: datetime | None = None
    attested_by: str | None = None  # the actor who attested it (a federation_admin)
    certificate_number: str | None = None
    issuer: str | None = None

    @property
    def attested(self) -> bool:
        return self.attested_at is not None

    def valid_on(self, day: date) -> bool:
        """Within the certificate's own dates (attested or not)."""
        return (self.valid_from is None or self.valid_from <= day) and day <= self.expires_on

    def counts_on(self, day: date) -> bool:
        """Whether placement may rely on it that day: attested by the operator, and valid."""
        return self.attested and self.valid_on(day)


def check_certification(cert: Certification) -> None:
    if cert.kind is CertificationKind.HDS:
        if not cert.activities or not cert.activities <= HDS_ACTIVITIES:
            raise InvalidInput(
                "an HDS certification lists the activities it covers, each from 1 to 6",
                code="civicloud.site.invalid_certification", field="certifications")
    elif cert.activities:
        raise InvalidInput(f"only HDS certifications have activities, not {cert.kind.value}",
                           code="civicloud.site.invalid_certification", field="certifications")


def check_attestation(certificate_number: str, issuer: str, valid_from: date, expires_on: date,
                      today: date) -> None:
    if not certificate_number.strip() or not issuer.strip():
        raise InvalidInput("an attestation names the certificate's number and its issuer (the certification body)",
                           code="civicloud.certification.invalid_attestation",
                           field="issuer" if certificate_number.strip() else "certificate_number")
    if valid_from > expires_on:
        raise InvalidInput(f"the certificate cannot expire ({expires_on}) before it is valid ({valid_from})",
                           code="civicloud.certification.invalid_attestation", field="expires_on")
    if expires_on < today:
        raise InvalidInput(f"this certificate expired on {expires_on}: an expired certificate cannot be attested; "
                           "ask the site for its renewed certificate",
                           code="civicloud.certification.expired", field="expires_on")


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
