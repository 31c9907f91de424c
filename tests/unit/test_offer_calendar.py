"""Offers: shares, calendar windows in the site's time zone, holidays, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from civicloud.domain.geography import department_of, is_public_holiday, region_of
from civicloud.domain.members import MemberCategory
from civicloud.domain.offers import Offer, Window, check_offer
from civicloud.errors import InvalidInput

WEEKDAYS = frozenset(range(5))
PARIS = "Europe/Paris"


def never(_d: date) -> bool:
    return False


# Office hours lend 20 %, weekday nights and weekends 80 %.
OFFICE = Offer(committed_percent=10, default_percent=80, windows=(Window(WEEKDAYS, time(8), time(19), 20),))
NIGHTS_ONLY = Offer(default_percent=0, windows=(Window(WEEKDAYS, time(20), time(7), 80),))


@pytest.mark.parametrize(("case", "offer", "when_utc", "expected"), [
    ("Tuesday 10:00 Paris is office hours", OFFICE, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), 20),
    ("Tuesday 22:00 Paris is night", OFFICE, datetime(2026, 12, 1, 21, 0, tzinfo=UTC), 80),
    ("Saturday noon is weekend", OFFICE, datetime(2026, 12, 5, 11, 0, tzinfo=UTC), 80),
    ("nights only: closed at 10:00", NIGHTS_ONLY, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), 0),
    ("nights only: open at 22:00", NIGHTS_ONLY, datetime(2026, 12, 1, 21, 0, tzinfo=UTC), 80),
    ("nights only: still open at 06:30 the next day", NIGHTS_ONLY, datetime(2026, 12, 2, 5, 30, tzinfo=UTC), 80),
    ("nights only: Saturday 06:00 continues Friday night", NIGHTS_ONLY, datetime(2026, 12, 5, 5, 0, tzinfo=UTC), 80),
    ("nights only: Sunday 06:00 is closed", NIGHTS_ONLY, datetime(2026, 12, 6, 5, 0, tzinfo=UTC), 0),
    ("the committed share is a floor", Offer(committed_percent=30, default_percent=0),
     datetime(2026, 12, 1, 9, 0, tzinfo=UTC), 30),
    # Summer time: 10:00 in Paris is 08:00 UTC in July.
    ("07:30 Paris in summer is before office hours", OFFICE, datetime(2026, 7, 7, 5, 30, tzinfo=UTC), 80),
    ("summer 10:00 Paris", OFFICE, datetime(2026, 7, 7, 8, 0, tzinfo=UTC), 20),
])
def test_share_at(case: str, offer: Offer, when_utc: datetime, expected: float) -> None:
    assert offer.share_at(when_utc, PARIS, never) == expected


def test_public_holiday_counts_as_sunday() -> None:
    # 25 December 2026 is a Friday: office hours would lend 20 %, a holiday lends the weekend's 80 %.
    christmas_10h = datetime(2026, 12, 25, 9, 0, tzinfo=UTC)
    assert OFFICE.share_at(christmas_10h, PARIS, lambda d: is_public_holiday(d, "93")) == 80
    assert OFFICE.share_at(datetime(2026, 12, 24, 9, 0, tzinfo=UTC), PARIS,
                           lambda d: is_public_holiday(d, "93")) == 20


@pytest.mark.parametrize(("day", "department", "holiday"), [
    (date(2026, 7, 14), "93", True),
    (date(2026, 12, 26), "93", False),  # Saint-Étienne: Alsace-Moselle only
    (date(2026, 12, 26), "57", True),
    (date(2026, 12, 26), "67", True),
    (date(2026, 4, 3), "68", True),  # Good Friday in Alsace
    (date(2026, 5, 27), "971", True),  # abolition of slavery, Guadeloupe
])
def test_french_holidays(day: date, department: str, holiday: bool) -> None:
    assert is_public_holiday(day, department) is holiday


@pytest.mark.parametrize(("insee", "department", "region"), [
    ("93029", "93", "11"), ("2A004", "2A", "94"), ("97101", "971", "01"), ("67482", "67", "44"),
])
def test_geography(insee: str, department: str, region: str) -> None:
    assert (department_of(insee), region_of(insee)) == (department, region)


@pytest.mark.parametrize(("case", "offer", "code"), [
    ("share over 100 %", Offer(default_percent=120), "civicloud.offer.invalid_share"),
    ("negative committed share", Offer(committed_percent=-1), "civicloud.offer.invalid_share"),
    ("window share over 100 %", Offer(windows=(Window(WEEKDAYS, time(8), time(9), 101),)),
     "civicloud.offer.invalid_share"),
    ("overlapping windows", Offer(windows=(Window(frozenset({0}), time(8), time(12), 20),
                                           Window(frozenset({0}), time(11), time(13), 30))),
     "civicloud.offer.overlapping_windows"),
    ("a night window running into a morning one", Offer(windows=(Window(frozenset({0}), time(22), time(7), 80),
                                                                 Window(frozenset({1}), time(6), time(8), 20))),
     "civicloud.offer.overlapping_windows"),
    ("no day", Offer(windows=(Window(frozenset(), time(8), time(9), 20),)), "civicloud.offer.invalid_window"),
    ("notice over a week", Offer(reclaim_notice_s=8 * 86400), "civicloud.offer.invalid_notice"),
])
def test_invalid_offers_are_refused(case: str, offer: Offer, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_offer(offer)
    assert err.value.code == code


def test_adjacent_windows_do_not_overlap() -> None:
    check_offer(Offer(windows=(Window(WEEKDAYS, time(8), time(19), 20), Window(WEEKDAYS, time(19), time(8), 80))))


def test_whole_day_window_and_timeline() -> None:
    offer = check_offer(Offer(default_percent=10, windows=(Window(frozenset({6}), time(0), time(0), 90),)))
    timeline = offer.weekly_timeline()
    assert timeline[6] == [90] * 24 and timeline[0] == [10] * 24


def test_next_change_finds_the_window_edge() -> None:
    # Tuesday 10:00 Paris; office hours end at 19:00 Paris = 18:00 UTC.
    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert OFFICE.next_change(when, PARIS, never) == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_borrower_categories() -> None:
    only_public = Offer(borrower_categories=frozenset({MemberCategory.COMMUNE, MemberCategory.HOSPITAL}))
    assert only_public.allows(MemberCategory.COMMUNE)
    assert not only_public.allows(MemberCategory.STARTUP)
    assert Offer().allows(MemberCategory.STARTUP)


def test_next_change_finds_a_ten_minute_window() -> None:
    short = Offer(windows=(Window(frozenset({0}), time(8), time(8, 10), 50),))
    monday_0758_paris = datetime(2026, 11, 30, 6, 58, tzinfo=UTC)
    assert short.next_change(monday_0758_paris, PARIS, never) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert short.next_change(datetime(2026, 11, 30, 7, 5, tzinfo=UTC), PARIS, never) == \
        datetime(2026, 11, 30, 7, 10, tzinfo=UTC)
    assert Offer(default_percent=40).next_change(monday_0758_paris, PARIS, never) is None


@pytest.mark.parametrize("name", ["localtime", "Factory", "posixrules", "posix/Europe/Paris", "right/UTC", "Mars/Base"])
def test_time_zones_that_name_no_place_are_refused(name: str) -> None:
    from civicloud.domain import validate_timezone

    with pytest.raises(InvalidInput) as err:
        validate_timezone(name)
    assert err.value.code == "civicloud.site.invalid_timezone"
