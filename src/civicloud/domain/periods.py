"""Billing periods: Paris calendar months, and where a period is cut. Pure.

A period is a calendar month in Paris time (the members' civil month), written ``YYYY-MM``, within the years
every date the API takes lies in (``FIRST_YEAR``..``LAST_YEAR``). Within a period, prices and agreements may
change from one day to the next: the period is cut at every Paris midnight where a price book starts or an
agreement starts or ends, and each piece is priced with what is in force on its first day.

Everything here is total: a date outside what the API takes (stored before it bounded them: 0001-01-01,
9999-12-31) cuts nothing instead of overflowing the calendar.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from civicloud.domain.billing import PriceBook
from civicloud.domain.members import Agreement
from civicloud.errors import InvalidInput

FIRST_YEAR, LAST_YEAR = 2000, 2999  # the years of every date, instant and period the API accepts
BILLING_TZ = ZoneInfo("Europe/Paris")
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """'2026-11' -> the month's first and next month's first instant, Paris midnights, in UTC.

    Total: anything but a month of the years the API takes is an InvalidInput, never an OverflowError or
    ValueError."""
    match = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if match is None or not FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
        raise InvalidInput(f"a period is a month written YYYY-MM between {FIRST_YEAR}-01 and {LAST_YEAR}-12, e.g. "
                           f"2026-11, not {period!r}", code="civicloud.billing.invalid_period", field="period")
    year, month = int(match[1]), int(match[2])
    return midnight(date(year, month, 1)), midnight(date(year + (month == 12), month % 12 + 1, 1))


def midnight(day: date) -> datetime:
    """The Paris midnight opening ``day``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=BILLING_TZ).astimezone(UTC)


def cut(day: date, start: datetime, end: datetime) -> datetime:
    """Where a boundary at the Paris midnight opening ``day`` cuts [start, end], clamped to it.

    A boundary outside the period cuts nothing, so only days of the period (and the one after it) are
    ever turned into instants."""
    first, last = start.astimezone(BILLING_TZ).date(), end.astimezone(BILLING_TZ).date()
    if day <= first:
        return start
    if day > last:
        return end
    return min(max(midnight(day), start), end)


def day_after(day: date) -> date:
    """The day after ``day``, or ``day`` itself at the calendar's end (it cuts nothing there anyway)."""
    return day if day == date.max else day + timedelta(days=1)


def pieces(start: datetime, end: datetime, books: Iterable[PriceBook],
           agreements: Iterable[Agreement]) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at every price book's first day and every agreement's first day and the day after its
    last: the pieces over which one set of prices and agreements is in force, in order."""
    cuts = {start, end}
    for book in books:
        cuts.add(cut(book.valid_from, start, end))
    for agreement in agreements:
        cuts.add(cut(agreement.valid_from, start, end))
        if agreement.valid_to is not None:
            cuts.add(cut(day_after(agreement.valid_to), start, end))
    bounds = sorted(cuts)
    return list(zip(bounds, bounds[1:], strict=False))
