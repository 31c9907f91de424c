"""Legal identity of members: SIREN and SIRET (python-stdnum does the Luhn arithmetic), agreements."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.fr import siren as stdnum_siren

from civicloud.domain import (
    Agreement,
    AgreementKind,
    MemberCategory,
    check_agreement_dates,
    validate_siren,
    validate_siret,
)
from civicloud.errors import InvalidInput

from civicloud_support import SIREN_AVICENNE, SIREN_BOBIGNY, SIREN_DRANCY


@pytest.mark.parametrize("siren", [SIREN_DRANCY, SIREN_BOBIGNY, SIREN_AVICENNE])
def test_fixture_sirens_are_valid(siren: str) -> None:
    assert stdnum_siren.is_valid(siren)


@pytest.mark.parametrize(("given", "compact"), [
    ("219300290", "219300290"),
    ("219 300 290", "219300290"),  # as printed on a Kbis or an invoice
    ("267500452", "267500452"),
])
def test_valid_siren_is_compacted(given: str, compact: str) -> None:
    assert validate_siren(given) == compact


@pytest.mark.parametrize(("case", "given"), [
    ("luhn checksum wrong", "219300291"),
    ("luhn checksum wrong, other digit", "219300280"),
    ("too short", "21930029"),
    ("too long", "2193002900"),
    ("letters", "21930029A"),
    ("empty", ""),
    ("non-ascii digits", "٢١٩٣٠٠٢٩٠"),
])
def test_invalid_siren_is_refused_with_its_code(case: str, given: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_siren(given)
    assert info.value.code == "civicloud.member.invalid_siren"
    assert info.value.field == "siren"


def test_valid_siret_of_its_siren() -> None:
    assert validate_siret("219 300 290 00018", SIREN_DRANCY) == "21930029000018"


@pytest.mark.parametrize(("case", "siret", "siren"), [
    ("luhn checksum wrong", "21930029000019", SIREN_DRANCY),
    ("too short", "2193002900001", SIREN_DRANCY),
    ("valid SIRET of another SIREN", "21930029000018", SIREN_BOBIGNY),
])
def test_invalid_siret_is_refused(case: str, siret: str, siren: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_siret(siret, siren)
    assert info.value.code == "civicloud.member.invalid_siret"
    assert info.value.field == "siret"


@pytest.mark.parametrize(("category", "public"), [
    (MemberCategory.COMMUNE, True),
    (MemberCategory.EPCI, True),
    (MemberCategory.HOSPITAL, True),
    (MemberCategory.SCHOOL, True),
    (MemberCategory.PPP_COMPANY, False),
    (MemberCategory.STARTUP, False),
])
def test_public_bodies(category: MemberCategory, public: bool) -> None:
    assert category.is_public_body is public


@pytest.mark.parametrize(("valid_from", "valid_to", "ok"), [
    (date(2026, 1, 1), None, True),
    (date(2026, 1, 1), date(2026, 1, 1), True),  # a one-day agreement
    (date(2026, 1, 1), date(2028, 12, 31), True),
    (date(2026, 1, 2), date(2026, 1, 1), False),
])
def test_agreement_period(valid_from: date, valid_to: date | None, ok: bool) -> None:
    if ok:
        check_agreement_dates(valid_from, valid_to)
    else:
        with pytest.raises(InvalidInput) as info:
            check_agreement_dates(valid_from, valid_to)
        assert info.value.code == "civicloud.agreement.invalid_period"


@pytest.mark.parametrize(("on", "in_force"), [
    (date(2025, 12, 31), False),
    (date(2026, 1, 1), True),
    (date(2027, 6, 30), True),
    (date(2027, 7, 1), False),
])
def test_agreement_in_force(on: date, in_force: bool) -> None:
    agreement = Agreement("a", "m", AgreementKind.MUTUALISATION_CONVENTION, date(2026, 1, 1), date(2027, 6, 30))
    assert agreement.in_force(on) is in_force


def test_open_ended_agreement_stays_in_force() -> None:
    agreement = Agreement("a", "m", AgreementKind.PPP, date(2026, 1, 1), None)
    assert agreement.in_force(date(2099, 1, 1))
