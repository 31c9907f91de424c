"""Sites: INSEE commune codes, time zones, certifications."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from civicloud.domain import (
    Certification,
    CertificationKind,
    check_attestation,
    check_certification,
    department_of,
    region_of,
    validate_insee_code,
    validate_timezone,
)
from civicloud.domain.sites import communes
from civicloud.errors import InvalidInput


@pytest.mark.parametrize(("given", "code"), [
    ("93029", "93029"),  # Drancy
    ("93008", "93008"),  # Bobigny
    ("2A004", "2A004"),  # Ajaccio
    ("2b033", "2B033"),  # Bastia, typed in lower case
    (" 75056 ", "75056"),  # Paris, with stray spaces
    ("97411", "97411"),  # Saint-Denis (La Réunion)
    ("75101", "75101"),  # Paris 1er arrondissement (a municipal arrondissement)
    ("13055", "13055"),  # Marseille
    ("97608", "97608"),  # Dzaoudzi (Mayotte)
])
def test_valid_insee_codes(given: str, code: str) -> None:
    assert validate_insee_code(given) == code


@pytest.mark.parametrize(("case", "given"), [
    ("all zeros", "00000"),
    ("département 00", "00123"),
    ("no such commune in Seine-Saint-Denis", "93999"),
    ("no such commune in Corse-du-Sud", "2A999"),
    ("département 99 (abroad, not a commune)", "99999"),
    ("Ajaccio's code before Corsica was split in 1976", "20004"),
    ("Paris's postcode, not its INSEE code", "75001"),
    ("Drancy's postcode", "93700"),
])
def test_well_formed_codes_outside_the_official_list(case: str, given: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_insee_code(given)
    assert (info.value.code, info.value.field) == ("civicloud.site.invalid_insee_code", "insee_code")
    assert "2026 official list" in info.value.message and "93029" in info.value.message


def test_the_official_list_is_the_2026_cog() -> None:
    names = communes()
    assert 36_000 < len(names) < 38_000  # communes, municipal arrondissements, delegated and associated communes
    assert (names["93029"], names["2A004"], names["75056"], names["69381"]) == \
        ("Drancy", "Ajaccio", "Paris", "Lyon 1er Arrondissement")
    # Every code of the list has a département and, in France proper and the five overseas regions, a region.
    for code in ("93029", "2B033", "97101", "97611", "75120"):
        assert region_of(code) is not None, code
    assert {department_of(c) for c in names} >= {"01", "2A", "2B", "93", "971", "976"}


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


PROPOSED = Certification(HDS, date(2030, 1, 1), frozenset({1, 2}))
ATTESTED = replace(PROPOSED, valid_from=date(2026, 1, 1), attested_at=datetime(2026, 1, 2, tzinfo=UTC),
                   attested_by="user:operator", certificate_number="HDS-2026-0042", issuer="a certification body")


@pytest.mark.parametrize(("case", "cert", "day", "counts"), [
    ("proposed only, however valid", PROPOSED, date(2027, 1, 1), False),
    ("attested, within its validity", ATTESTED, date(2027, 1, 1), True),
    ("attested, on its expiry day", ATTESTED, date(2030, 1, 1), True),
    ("attested, expired", ATTESTED, date(2030, 1, 2), False),
    ("attested, not valid yet", ATTESTED, date(2025, 12, 31), False),
])
def test_only_attested_certifications_count(case: str, cert: Certification, day: date, counts: bool) -> None:
    assert cert.counts_on(day) is counts
    assert cert.attested is (cert is ATTESTED)


TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(("case", "number", "issuer", "valid_from", "expires_on", "code"), [
    ("valid", "HDS-0042", "a body", date(2026, 1, 1), date(2029, 1, 1), None),
    ("expires today", "HDS-0042", "a body", date(2026, 1, 1), TODAY, None),
    ("expired yesterday", "HDS-0042", "a body", date(2023, 1, 1), date(2026, 12, 1), "civicloud.certification.expired"),
    ("ends before it starts", "HDS-0042", "a body", date(2029, 1, 1), date(2028, 1, 1),
     "civicloud.certification.invalid_attestation"),
    ("blank number", "  ", "a body", date(2026, 1, 1), date(2029, 1, 1), "civicloud.certification.invalid_attestation"),
    ("blank issuer", "HDS-0042", "", date(2026, 1, 1), date(2029, 1, 1), "civicloud.certification.invalid_attestation"),
])
def test_attestation_rules(case: str, number: str, issuer: str, valid_from: date, expires_on: date,
                           code: str | None) -> None:
    if code is None:
        check_attestation(number, issuer, valid_from, expires_on, TODAY)
        return
    with pytest.raises(InvalidInput) as info:
        check_attestation(number, issuer, valid_from, expires_on, TODAY)
    assert info.value.code == code
