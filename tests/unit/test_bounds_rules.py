"""Period arithmetic and the cost model are total: no OverflowError, ValueError or InvalidOperation escapes.

Pure: period bounds and the cuts of a period at stored dates (however far), the
cost model over its stated bounds (hypothesis), and the shared decimal type.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from civicloud.domain.billing import Prices
from civicloud.domain.periods import cut as _cut
from civicloud.domain.periods import day_after as _day_after
from civicloud.domain.periods import period_bounds
from civicloud.domain.pricing import COST_INPUT_BOUNDS, CostInputs, cost_model, with_margin
from civicloud.errors import InvalidInput
from civicloud.wire.common import Day, DecimalText, Period


@pytest.mark.parametrize("period", ["0001-01", "9999-12", "2026-13", "2026-00", "1999-12", "3000-01", "2026-1",
                                    "", "2026-11 ", "\u0662\u0660\u0662\u0666-11", "abcd-ef"])
def test_period_bounds_refuse_what_they_cannot_compute(period: str) -> None:
    with pytest.raises(InvalidInput) as info:
        period_bounds(period)
    assert info.value.code == "civicloud.billing.invalid_period"
    assert "2000-01" in info.value.message and "2999-12" in info.value.message


@pytest.mark.parametrize(("period", "start", "end"), [
    ("2000-01", datetime(1999, 12, 31, 23, tzinfo=UTC), datetime(2000, 1, 31, 23, tzinfo=UTC)),
    ("2026-11", datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC)),
    ("2999-12", datetime(2999, 11, 30, 23, tzinfo=UTC), datetime(2999, 12, 31, 23, tzinfo=UTC)),
])
def test_period_bounds_at_the_edges(period: str, start: datetime, end: datetime) -> None:
    assert period_bounds(period) == (start, end)


SEPTEMBER = period_bounds("2026-09")


@pytest.mark.parametrize(("day", "expected"), [
    (date.min, SEPTEMBER[0]), (date(1, 1, 1), SEPTEMBER[0]), (date(2026, 9, 1), SEPTEMBER[0]),
    (date(2026, 9, 16), datetime(2026, 9, 15, 22, tzinfo=UTC)), (date(2026, 10, 1), SEPTEMBER[1]),
    (date(2026, 10, 2), SEPTEMBER[1]), (date(9999, 12, 31), SEPTEMBER[1]), (date.max, SEPTEMBER[1]),
])
def test_a_stored_date_cuts_a_period_clamped_to_it(day: date, expected: datetime) -> None:
    assert _cut(day, *SEPTEMBER) == expected


@pytest.mark.parametrize(("last_day", "expected"), [
    (date.min, SEPTEMBER[0]), (date(2026, 8, 31), SEPTEMBER[0]),
    (date(2026, 9, 15), datetime(2026, 9, 15, 22, tzinfo=UTC)),
    (date(2026, 9, 30), SEPTEMBER[1]), (date(9999, 12, 31), SEPTEMBER[1]), (date.max, SEPTEMBER[1]),
])
def test_an_agreement_ending_on_a_stored_date_cuts_the_day_after(last_day: date, expected: datetime) -> None:
    assert _cut(_day_after(last_day), *SEPTEMBER) == expected


@settings(max_examples=300)
@given(st.dates(), st.integers(2000, 2999), st.integers(1, 12))
def test_cutting_any_period_at_any_date_never_raises(day: date, year: int, month: int) -> None:
    start, end = period_bounds(f"{year:04d}-{month:02d}")
    assert start <= _cut(day, start, end) <= end
    assert start <= _cut(_day_after(day), start, end) <= end


# -- the cost model --------------------------------------------------------------------------------------


def _within(name: str) -> st.SearchStrategy[Decimal]:
    low, high = COST_INPUT_BOUNDS[name]
    return st.decimals(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


INPUTS = st.builds(CostInputs, **{name: _within(name) for name in COST_INPUT_BOUNDS if name != "margin_percent"})


@settings(max_examples=500)
@given(INPUTS, _within("margin_percent"))
def test_the_cost_model_is_total_within_its_bounds(inputs: CostInputs, margin: Decimal) -> None:
    result = cost_model(inputs)
    prices = with_margin(result.prices, margin)
    values = [result.yearly_eur, result.hourly_eur, *vars(result.prices).values(), *vars(prices).values()]
    assert all(v.is_finite() and v >= 0 for v in values)


BASE = CostInputs(Decimal(20000), Decimal(5), Decimal(500), Decimal("0.20"), Decimal(3000), Decimal(1124),
                  Decimal(128), Decimal(512), Decimal(10000))


@pytest.mark.parametrize("name", ["amortisation_years", "vcpus", "memory_gib", "disk_gib", "utilisation"])
@pytest.mark.parametrize("value", [Decimal("1e-30"), Decimal(0), Decimal("-1"), Decimal("NaN"), Decimal("sNaN"),
                                   Decimal("Infinity"), Decimal("1e30")])
def test_the_cost_model_refuses_divisors_out_of_bounds(name: str, value: Decimal) -> None:
    with pytest.raises(InvalidInput) as info:
        cost_model(CostInputs(**{**vars(BASE), name: value}))
    assert (info.value.code, info.value.field) == ("civicloud.pricing.invalid_input", name)


@pytest.mark.parametrize("margin", [Decimal("NaN"), Decimal("-1"), Decimal("1e30")])
def test_a_margin_out_of_bounds_is_refused(margin: Decimal) -> None:
    with pytest.raises(InvalidInput):
        with_margin(Prices(vcpu_hour=Decimal(1)), margin)


# -- the shared types ------------------------------------------------------------------------------------


class Typed(BaseModel):
    amount: Annotated[Decimal, DecimalText(0, 100, 2)]
    day: Day | None = None
    period: Period | None = None


@pytest.mark.parametrize(("value", "expected"), [
    ("12.5", Decimal("12.5")), ("0", Decimal(0)), ("0.10", Decimal("0.10")), ("100.00", Decimal(100)),
    (7, Decimal(7)), (0.25, Decimal("0.25")), (Decimal("1E+1"), Decimal(10)),
])
def test_canonical_decimals_pass(value: object, expected: Decimal) -> None:
    assert Typed(amount=value).amount == expected


@pytest.mark.parametrize("value", ["1e1", "1E1", "NaN", "-NaN", "Infinity", "inf", "1_0", " 1", "1 ", "+1", "-0",
                                   "-0.0", "01", ".5", "5.", "1.234", "1.000", "100.01", "-1", "\u0661", "", "x" * 41,
                                   float("nan"), float("inf"), 1e-30, -0.0, 1e16, True, None, [1], {"a": 1},
                                   Decimal("NaN"), Decimal("-0"), 10**400])
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        Typed(amount=value)


def test_decimals_are_written_out_plainly() -> None:
    assert Typed(amount=Decimal("1E+1")).model_dump_json() == '{"amount":"10","day":null,"period":null}'


@pytest.mark.parametrize("value", ["2000-01-01", "2999-12-31", date(2026, 1, 1)])
def test_days_within_the_range_pass(value: object) -> None:
    assert Typed(amount=1, day=value).day is not None


@pytest.mark.parametrize("value", ["1999-12-31", "3000-01-01", "9999-12-31", "0001-01-01", date.max, date.min,
                                   datetime(2026, 1, 1, tzinfo=UTC), 1_767_225_600, "2026-01-01T00:00:00"])
def test_days_outside_the_range_or_not_dates_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        Typed(amount=1, day=value)


def test_the_schema_pattern_is_the_rule() -> None:
    import re

    pattern = Typed.model_json_schema()["properties"]["amount"]["anyOf"][1]["pattern"]
    assert pattern == r"^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$"
    for text in ("0", "12.5", "99.99", "1.000", "-1", "01", "1e1", " 1"):
        accepted = True
        try:
            Typed(amount=text)
        except ValidationError:
            accepted = False
        assert accepted == bool(re.fullmatch(pattern, text)), text
