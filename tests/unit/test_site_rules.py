"""Sites: INSEE commune codes, time zones, certifications."""

from __future__ import annotations

from datetime import date

import pytest

from civicloud.domain import (
    Certification,
    CertificationKind,
    check_certification,
    validate_insee_code,
    validate_timezone,
)
from civicloud.errors import InvalidInput


@pytest.mark.parametrize(("given", "code"), [
    ("93029", "93029"),  # Drancy
    ("93008", "93008"),  # Bobigny
    ("2A004", "2A004"),  # Ajaccio
    ("2b033", "2B033"),  # Bastia, typed in lower case
    (" 75056 ", "75056"),  # Paris, with stray spaces
    ("97411", "97411"),  # Saint-Denis (La Réunion)
])
def test_valid_insee_codes(given: str, code: str) -> None:
    assert validate_insee_code(given) == code


@pytest.mark.parametrize(("case", "given"), [
    ("too short", "9302"),
    ("too long", "930290"),
    ("letters", "ABCDE"),
    ("Corsica letter that does not exist", "2C004"),
    ("letter outside Corsica", "9A004"),
    ("postcode with a dash", "93-02"),
    ("empty", ""),
    ("non-ascii digits", "٩٣٠٢٩"),
    ("fullwidth digits", "９３０２９"),
    ("trailing newline inside", "9302\n9"),
])
def test_invalid_insee_codes(case: str, given: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_insee_code(given)
    assert info.value.code == "civicloud.site.invalid_insee_code"
    assert info.value.field == "insee_code"


@pytest.mark.parametrize("tz", ["Europe/Paris", "America/Cayenne", "Indian/Reunion", "Pacific/Noumea", "UTC"])
def test_valid_timezones(tz: str) -> None:
    assert validate_timezone(tz) == tz


@pytest.mark.parametrize(("case", "tz"), [
    ("unknown", "Europe/Drancy"),
    ("empty", ""),
    ("path traversal", "../../etc/passwd"),
    ("absolute path", "/etc/localtime"),
    ("NUL byte", "Europe/Paris\x00"),
    ("trailing newline", "Europe/Paris\n"),
    ("offset instead of a zone", "+01:00"),
])
def test_invalid_timezones(case: str, tz: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_timezone(tz)
    assert info.value.code == "civicloud.site.invalid_timezone"


HDS = CertificationKind.HDS


@pytest.mark.parametrize(("case", "cert", "ok"), [
    ("HDS with all activities", Certification(HDS, date(2030, 1, 1), frozenset(range(1, 7))), True),
    ("HDS with one activity", Certification(HDS, date(2030, 1, 1), frozenset({5})), True),
    ("HDS without activities", Certification(HDS, date(2030, 1, 1), frozenset()), False),
    ("HDS activity 0", Certification(HDS, date(2030, 1, 1), frozenset({0, 1})), False),
    ("HDS activity 7", Certification(HDS, date(2030, 1, 1), frozenset({7})), False),
    ("ISO 27001 without activities", Certification(CertificationKind.ISO27001, date(2030, 1, 1)), True),
    ("SecNumCloud without activities", Certification(CertificationKind.SECNUMCLOUD, date(2030, 1, 1)), True),
    ("ISO 27001 with activities", Certification(CertificationKind.ISO27001, date(2030, 1, 1), frozenset({1})),
     False),
])
def test_certification_rules(case: str, cert: Certification, ok: bool) -> None:
    if ok:
        check_certification(cert)
    else:
        with pytest.raises(InvalidInput) as info:
            check_certification(cert)
        assert info.value.code == "civicloud.site.invalid_certification"


@pytest.mark.parametrize(("day", "valid"), [
    (date(2029, 12, 31), True),
    (date(2030, 1, 1), True),  # valid through its expiry day
    (date(2030, 1, 2), False),
])
def test_certification_expiry(day: date, valid: bool) -> None:
    assert Certification(HDS, date(2030, 1, 1), frozenset({1})).valid_on(day) is valid
