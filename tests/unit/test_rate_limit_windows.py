"""The sliding window over two fixed windows (domain/rate_limits.py): where windows start, and how many the
current window may hold as the previous one's weight slides out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from civicloud.domain.rate_limits import allowance, wait_us, window_at

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # a minute's first instant


def test_windows_are_aligned_on_the_epoch() -> None:
    w = window_at(T0 + timedelta(seconds=42, microseconds=5), 60)
    assert (w.start, w.previous, w.expires_at) == (T0, T0 - timedelta(minutes=1), T0 + timedelta(minutes=2))
    assert w.elapsed_us == 42_000_005 and w.length_us == 60_000_000
    assert window_at(T0, 60).start == T0 and window_at(T0 - timedelta(microseconds=1), 60).start == w.previous
    assert window_at(T0 + timedelta(seconds=7), 3600).start == T0  # 09:00 is an hour's start too
    with pytest.raises(ValueError):
        window_at(T0, 0)


@pytest.mark.parametrize(("previous", "elapsed_s", "room"), [
    (0, 0, 10), (0, 59.9, 10),  # nothing before: the whole limit
    (10, 0, 0), (10, 6, 1), (10, 30, 5), (10, 59.999, 9),  # a full previous window slides out
    (4, 15, 7),  # 10 − 4 × 3/4
    (25, 30, -3),  # more than the limit before (it was lowered since): nothing yet
])
def test_the_previous_window_weighs_what_is_left_of_it(previous: int, elapsed_s: float, room: int) -> None:
    assert allowance(10, previous, window_at(T0 + timedelta(seconds=elapsed_s), 60)) == room


def test_never_more_than_the_limit_in_a_fixed_window_nor_twice_it_in_any_sliding_one() -> None:
    """Arrivals at random instants over ten minutes, admitted as the store does (count < allowance)."""
    rng = random.Random(7)
    limit, counts, admitted = 20, {}, []
    for offset in sorted(rng.uniform(0, 600) for _ in range(5000)):
        at = T0 + timedelta(seconds=offset)
        w = window_at(at, 60)
        if counts.get(w.start, 0) < allowance(limit, counts.get(w.previous, 0), w):
            counts[w.start] = counts.get(w.start, 0) + 1
            admitted.append(offset)
    assert max(counts.values()) <= limit and len(counts) == 10
    assert sum(counts.values()) >= 9 * limit  # and it does admit up to the limit under a steady flood
    for i, first in enumerate(admitted):  # every sliding minute
        in_minute = sum(1 for later in admitted[i:] if later - first < 60)
        assert in_minute <= 2 * limit


def _admits(limit: int, previous: int, current: int, start: datetime, length_s: float, at: datetime) -> bool:
    """Would a check at ``at`` pass, the counts being those of the window starting at ``start`` and the one
    before (nothing else counted meanwhile)?"""
    w = window_at(at, length_s)
    if w.start == start:
        return allowance(limit, previous, w) >= current + 1
    if w.previous == start:
        return allowance(limit, current, w) >= 1
    assert w.previous > start, "later than the refusal"
    return allowance(limit, 0, w) >= 1  # two windows on: nothing counted in the one before


def test_the_wait_a_refusal_announces_is_exact_to_the_microsecond() -> None:
    rng = random.Random(3)
    length_s = 60.0
    for _ in range(3000):
        limit = rng.randint(1, 50)
        previous = rng.randint(0, 2 * limit)
        now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC) + timedelta(microseconds=rng.randint(0, 120_000_000))
        w = window_at(now, length_s)
        current = max(0, min(limit, allowance(limit, previous, w)))  # as full as the check found it
        wait = wait_us(limit, previous, current, w)
        assert 0 <= wait <= 2 * 60_000_000
        then = now + timedelta(microseconds=wait)
        assert _admits(limit, previous, current, w.start, length_s, then), (limit, previous, current, wait)
        if wait > 0:
            assert not _admits(limit, previous, current, w.start, length_s, then - timedelta(microseconds=1))
