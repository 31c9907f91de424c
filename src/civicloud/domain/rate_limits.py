"""Rate limits as sliding windows over two fixed windows, weighted. Pure: the store keeps the counts.

Time is cut into fixed windows aligned on the epoch (``length_s`` long: 12:00:00–12:01:00, …). A key has a
count per window. A check at an instant admits while

    previous window's count × (share of the previous window still inside the last ``length_s``)
    + current window's count  ≤  limit

— the classic estimate of a sliding window that needs only one counter per key and window: it assumes the
previous window's checks were spread evenly over it. Whatever the arrivals, it never admits more than ``limit`` in
one fixed window (so never more than ``n × limit`` over ``n`` windows); across a window's edge it admits at
most ``limit`` in the last ``length_s`` when the previous window's checks were spread evenly, and at worst
(they all came at its very end) up to twice that. A fixed window alone admits twice the limit at every edge
(``limit`` just before it, ``limit`` just after); a log of every check is exact but keeps a row per check.

The arithmetic is in integer microseconds, so the same instant always gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Window:
    """The fixed window an instant falls in, as the counts are kept."""

    start: datetime  # this window's first instant
    previous: datetime  # the previous window's first instant
    elapsed_us: int  # how far into this window the instant is, 0 ≤ elapsed_us < length_us
    length_us: int
    expires_at: datetime  # when this window's count is of no more use: once the next window has ended too


def window_at(now: datetime, length_s: float) -> Window:
    length_us = round(length_s * 1_000_000)
    if length_us <= 0:
        raise ValueError("a rate limit's window lasts a positive time")
    at_us = (now - _EPOCH) // _US
    elapsed_us = at_us % length_us
    start = _EPOCH + (at_us - elapsed_us) * _US
    length = length_us * _US
    return Window(start, start - length, elapsed_us, length_us, start + 2 * length)


def allowance(limit: int, previous_count: int, window: Window) -> int:
    """How many checks the current window may hold at ``window``'s instant: the largest count ``c`` with
    ``previous_count × (1 − elapsed) + c ≤ limit``. Zero or less: nothing more is admitted now."""
    remaining_us = window.length_us - window.elapsed_us
    return (limit * window.length_us - previous_count * remaining_us) // window.length_us


def wait_us(limit: int, previous_count: int, current_count: int, window: Window) -> int:
    """How long until one more check is admitted, at ``window``'s instant, with these counts (what a refused
    caller is told: ``Retry-After``). ``allowance(limit, p, e) ≥ k`` holds exactly when ``p × (length − e) ≤
    (limit − k) × length``, i.e. from ``e = length − ⌊(limit − k) × length / p⌋`` on: in this window if the
    previous one's weight fades enough before it ends, else in the next one, where this window's count is the
    previous one's."""
    length, elapsed = window.length_us, window.elapsed_us
    room = limit - (current_count + 1)
    if room >= 0:
        at = 0 if previous_count == 0 else length - (room * length) // previous_count
        if at < length:
            return max(0, at - elapsed)
    following = 0 if current_count == 0 else max(0, length - ((limit - 1) * length) // current_count)
    return (length - elapsed) + following
