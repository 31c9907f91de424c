"""The test clocks and ids: frozen, stepping, sequential."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from civicloud.clock import FrozenClock, SequentialIds, SteppingClock, random_ids, system_clock

T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)


def test_a_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(T0)
    assert clock() == clock() == T0
    assert clock.advance(90) == T0 + timedelta(seconds=90) == clock()
    assert clock.advance(timedelta(hours=1)) == T0 + timedelta(hours=1, seconds=90)
    clock.set(T0)
    assert clock() == T0
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)


def test_a_stepping_clock_orders_readings_without_sleeping() -> None:
    clock = SteppingClock(T0, timedelta(seconds=2))
    readings = [clock() for _ in range(3)]
    assert readings == [T0, T0 + timedelta(seconds=2), T0 + timedelta(seconds=4)]
    with pytest.raises(ValueError):
        SteppingClock(T0, timedelta(0))


def test_clocks_hold_utc_instants_and_refuse_naive_ones() -> None:
    paris = datetime(2026, 9, 1, 10, tzinfo=timezone(timedelta(hours=2)))
    assert FrozenClock(paris)() == T0 and FrozenClock(paris)().tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        FrozenClock(datetime(2026, 9, 1))
    assert system_clock().tzinfo is UTC


def test_ids_are_uuids_sequential_ones_repeatable() -> None:
    ids = SequentialIds()
    first = [ids() for _ in range(3)]
    assert first == [str(uuid.UUID(int=n)) for n in (1, 2, 3)]
    assert [SequentialIds()() for _ in range(2)] == [first[0]] * 2
    drawn = {random_ids() for _ in range(100)}
    assert len(drawn) == 100 and all(uuid.UUID(i).version == 4 for i in drawn)
