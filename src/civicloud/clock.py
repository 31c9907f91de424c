"""The one notion of now, and of new ids.

Every instant a service, the domain, the scheduler, the middleware or the agent decides on comes from a
``Clock``, and every id it makes from an ``IdSource``; both are built at the composition root
(``api.create_app``, ``agent.Agent``, the CLI's entry points) and reach the services through the unit of
work (``uow.clock()``, ``uow.new_id()``). This module is the only place that reads the wall clock or draws a
random id (``tests/unit/test_clock_discipline.py`` fails when a new direct read appears elsewhere), so the
same placement, reclaim and billing code runs on simulated time: a test or a simulator passes a
``FrozenClock`` or a ``SteppingClock`` and sequential ids.

``time.monotonic`` and ``time.sleep`` stay where a process *waits* (a shutdown timeout, a poll until
something is ready): waiting is not deciding.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current instant, timezone-aware UTC."""

IdSource = Callable[[], str]
"""Returns a new id: a UUID in its canonical text form."""


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def random_ids() -> str:
    """A random (version 4) UUID."""
    return str(uuid.uuid4())


class FrozenClock:
    """Now is what the test says it is: it moves only with ``advance`` or ``set``."""

    def __init__(self, at: datetime) -> None:
        self._now = _aware(at)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: timedelta | float) -> datetime:
        """Move now forward by a timedelta or a number of seconds; returns the new now."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("a clock does not go back; use set() to start again")
        with self._lock:
            self._now += step
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = _aware(at)


class SteppingClock(FrozenClock):
    """Each reading returns now, then moves it forward by ``step``: arrivals are ordered without sleeping."""

    def __init__(self, start: datetime, step: timedelta = timedelta(milliseconds=1)) -> None:
        super().__init__(start)
        if step <= timedelta(0):
            raise ValueError("a stepping clock moves forward: step must be positive")
        self.step = step

    def __call__(self) -> datetime:
        with self._lock:
            now = self._now
            self._now += self.step
            return now


class SequentialIds:
    """Ids 00000000-0000-0000-0000-000000000001, …002, …: repeatable runs (tests, the simulator)."""

    def __init__(self, start: int = 1) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            n, self._next = self._next, self._next + 1
        return str(uuid.UUID(int=n))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock holds timezone-aware instants (UTC)")
    return at.astimezone(UTC)
