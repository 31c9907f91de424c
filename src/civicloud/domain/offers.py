"""What a site lends, and when.

An offer has a *committed* share (lent at all times, the room for guaranteed
work) and a *harvest* share that may follow a weekly calendar: windows in the
site's local time, each lending a share of every host (e.g. office hours 20 %,
nights and weekends 80 %). Outside every window the default share applies.
French public holidays count as Sundays. The share lent at a given moment is
the larger of the committed share and the calendar's share.

Shares apply to each host's capacity above the owner's reserve:
``(total − reserved) × allocation ratio``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from civicloud.domain.members import MemberCategory
from civicloud.errors import InvalidInput

MINUTES_PER_DAY = 24 * 60
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUNDAY = 6
DEFAULT_NOTICE_S = 30
MAX_NOTICE_S = 7 * 86400


@dataclass(frozen=True)
class Window:
    """Open on ``days`` (0 = Monday) from ``start`` to ``end`` local time.

    ``end`` ≤ ``start`` runs past midnight into the next day; ``end`` = ``start`` is a whole 24 hours.
    """

    days: frozenset[int]
    start: time
    end: time
    share_percent: float

    def minutes(self) -> Iterable[int]:
        """Minutes of the week (0 = Monday 00:00) this window covers."""
        s = self.start.hour * 60 + self.start.minute
        e = self.end.hour * 60 + self.end.minute
        length = e - s if e > s else MINUTES_PER_DAY - s + e
        for day in self.days:
            base = day * MINUTES_PER_DAY + s
            for m in range(length):
                yield (base + m) % (7 * MINUTES_PER_DAY)

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.share_percent:g} %"


@dataclass(frozen=True)
class Offer:
    committed_percent: float = 0.0
    default_percent: float = 0.0
    windows: tuple[Window, ...] = ()
    # Who may borrow; empty means every category.
    borrower_categories: frozenset[MemberCategory] = field(default_factory=frozenset)
    reclaim_notice_s: int = DEFAULT_NOTICE_S

    def allows(self, category: MemberCategory) -> bool:
        return not self.borrower_categories or category in self.borrower_categories

    def calendar_share(self, day_of_week: int, minute: int, previous_day_of_week: int) -> float:
        """The calendar's share at ``minute`` of a day of type ``day_of_week``."""
        for w in self.windows:
            s = w.start.hour * 60 + w.start.minute
            e = w.end.hour * 60 + w.end.minute
            if e > s:
                if day_of_week in w.days and s <= minute < e:
                    return w.share_percent
            elif (day_of_week in w.days and minute >= s) or (previous_day_of_week in w.days and minute < e):
                return w.share_percent
        return self.default_percent

    def share_at(self, when: datetime, tz: str, is_holiday: Callable[[date], bool]) -> float:
        """The share of each host lent at ``when`` (aware), in the site's time zone ``tz``."""
        local = when.astimezone(ZoneInfo(tz))
        day = local.date()
        dow = SUNDAY if is_holiday(day) else day.weekday()
        yesterday = day - timedelta(days=1)
        prev = SUNDAY if is_holiday(yesterday) else yesterday.weekday()
        return max(self.committed_percent, self.calendar_share(dow, local.hour * 60 + local.minute, prev))

    def weekly_timeline(self) -> list[list[float]]:
        """7 × 24 harvest shares at the start of each hour, Monday first (holidays aside)."""
        return [[max(self.committed_percent, self.calendar_share(d, h * 60, (d - 1) % 7)) for h in range(24)]
                for d in range(7)]

    def next_change(self, when: datetime, tz: str, is_holiday: Callable[[date], bool],
                    horizon: timedelta = timedelta(days=8)) -> datetime | None:
        """When the lent share next changes, within ``horizon``; None if it does not.

        The share can only change at a window's start or end or at local midnight (a holiday begins
        or ends), so those instants are the only ones tested: exact, and a few hundred evaluations.
        """
        zone = ZoneInfo(tz)
        now_share = self.share_at(when, tz, is_holiday)
        first_day = when.astimezone(zone).date() - timedelta(days=1)
        edges = {time(0)} | {w.start for w in self.windows} | {w.end for w in self.windows}
        candidates = sorted(
            datetime.combine(first_day + timedelta(days=d), edge, tzinfo=zone).astimezone(when.tzinfo)
            for d in range(horizon.days + 2) for edge in edges)
        end = when + horizon
        for t in candidates:
            if when < t <= end and self.share_at(t, tz, is_holiday) != now_share:
                return t
        return None


def _check_share(value: float, field_name: str) -> None:
    if not (0 <= value <= 100):
        raise InvalidInput(f"{field_name} must be between 0 and 100 %, not {value:g}",
                           code="civicloud.offer.invalid_share", field=field_name)


def check_offer(offer: Offer) -> Offer:
    """Refuse shares outside 0–100 %, windows without days, and windows that overlap."""
    _check_share(offer.committed_percent, "committed_percent")
    _check_share(offer.default_percent, "default_percent")
    if not (0 <= offer.reclaim_notice_s <= MAX_NOTICE_S):
        raise InvalidInput(f"reclaim notice must be between 0 s and 7 days, not {offer.reclaim_notice_s} s",
                           code="civicloud.offer.invalid_notice", field="reclaim_notice_s")
    owner: dict[int, int] = {}
    for i, w in enumerate(offer.windows):
        _check_share(w.share_percent, f"windows.{i}.share_percent")
        if not w.days or not w.days <= set(range(7)):
            raise InvalidInput(f"window {i} needs at least one day among mon…sun",
                               code="civicloud.offer.invalid_window", field=f"windows.{i}.days")
        for minute in w.minutes():
            j = owner.setdefault(minute, i)
            if j != i:
                day, rest = divmod(minute, MINUTES_PER_DAY)
                raise InvalidInput(
                    f"windows {j} ({offer.windows[j].describe()}) and {i} ({w.describe()}) overlap on "
                    f"{DAY_NAMES[day]} at {rest // 60:02d}:{rest % 60:02d}; a moment of the week belongs to one "
                    "window only", code="civicloud.offer.overlapping_windows", field=f"windows.{i}")
    return offer
