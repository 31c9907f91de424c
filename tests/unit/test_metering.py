"""Hourly usage records from allocations and samples (domain.metering), as cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloud.domain import Resources, ServiceClass, UsageSample
from civicloud.domain.metering import HeldAllocation, floor_hour, records_for

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SMALL = Resources(2, 4096, 20, 0)


def held(start: datetime, end: datetime | None, alloc: str = "a1", resources: Resources = SMALL) -> HeldAllocation:
    return HeldAllocation(alloc, "w1", "bobigny", "drancy", "site", "hv1", "vm.small", ServiceClass.HARVEST,
                          resources, start, end)


def sample(at: datetime, cpu_s: float, mem_used: int | None = None, n: int = 0) -> UsageSample:
    return UsageSample(f"s{at:%H%M%S}{n}", "w1", "bobigny", "site", "hv1", at, at, 2, int(cpu_s * 1e9), 4096,
                       mem_used, 0, 0, 0, 0)


def test_an_allocation_is_cut_at_each_hour() -> None:
    a = held(T0 + timedelta(minutes=30), T0 + timedelta(hours=2, minutes=15))
    recs = records_for([a], [], T0, T0 + timedelta(hours=4))
    assert [(r.hour, r.seconds) for r in recs] == [(T0, 1800), (T0 + timedelta(hours=1), 3600),
                                                   (T0 + timedelta(hours=2), 900)]
    assert [r.vcpu_seconds for r in recs] == [3600, 7200, 1800]
    assert recs[1].memory_mib_seconds == 4096 * 3600 and recs[1].disk_gib_seconds == 20 * 3600
    assert len({r.id for r in recs}) == 3


def test_a_held_allocation_counts_up_to_the_end_of_the_range() -> None:
    recs = records_for([held(T0 - timedelta(days=1), None)], [], T0, T0 + timedelta(hours=2))
    assert [r.seconds for r in recs] == [3600, 3600]


def test_instants_are_truncated_to_the_second() -> None:
    a = held(T0 + timedelta(seconds=10, microseconds=999_999), T0 + timedelta(seconds=20, microseconds=1))
    assert [r.seconds for r in records_for([a], [], T0, T0 + timedelta(hours=1))] == [10]


def test_the_same_inputs_give_the_same_records() -> None:
    a = held(T0 + timedelta(minutes=5), T0 + timedelta(hours=3))
    first = records_for([a], [], T0, T0 + timedelta(hours=3))
    again = records_for([a], [], T0 + timedelta(hours=1), T0 + timedelta(hours=3))  # a later part, on its own
    assert first[1:] == again


def test_periods_start_on_whole_hours() -> None:
    with pytest.raises(ValueError):
        records_for([], [], T0 + timedelta(minutes=1), T0 + timedelta(hours=1))


def test_measured_cpu_time_and_memory_from_the_samples() -> None:
    a = held(T0 - timedelta(hours=1), None)
    samples = [sample(T0 - timedelta(minutes=1), 100), sample(T0 + timedelta(minutes=20), 160, 1000),
               sample(T0 + timedelta(minutes=50), 400, 3000),
               # restarted in the next hour: the counter starts again from zero
               sample(T0 + timedelta(hours=1, minutes=10), 30, None)]
    recs = records_for([a], samples, T0, T0 + timedelta(hours=3))
    assert recs[0].cpu_time_ns == 300 * 10**9 and recs[0].memory_used_mib == 2000
    assert recs[1].cpu_time_ns == 30 * 10**9 and recs[1].memory_used_mib == 4096  # no balloon figure: what it has
    assert recs[2].cpu_time_ns is None and recs[2].memory_used_mib is None  # not sampled that hour


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 72 * 3600), st.integers(1, 72 * 3600), st.integers(0, 10**6))
def test_hours_add_up_to_the_allocation_lifetime(offset_s: int, length_s: int, micro: int) -> None:
    start = T0 + timedelta(seconds=offset_s, microseconds=micro)
    end = start + timedelta(seconds=length_s)
    recs = records_for([held(start, end)], [], floor_hour(T0), floor_hour(T0) + timedelta(days=7))
    whole = int((end.replace(microsecond=0) - start.replace(microsecond=0)).total_seconds())
    assert sum(r.seconds for r in recs) == whole
    assert all(0 < r.seconds <= 3600 for r in recs)
    assert sum(r.vcpu_seconds for r in recs) == 2 * whole
