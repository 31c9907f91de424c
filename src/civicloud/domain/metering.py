"""Metering: from allocations and agents' samples to hourly usage records. Pure.

A usage record says, for one allocation and one clock hour (UTC), how long the
workload held it (seconds) and so how many resource-seconds it was allocated
(vCPU, memory MiB, disk GiB, GPU), and — where its host's agent sampled it in
that hour — what it measured: CPU time used, and the memory in use on average.

Instants are truncated to the whole second before anything is computed, so the
seconds of an allocation's hours add up exactly to its lifetime. A record's id is
derived from (allocation, hour): computing a period again from the same
allocations and samples gives the very same records, which is what makes the
roll-up idempotent and lets anyone check it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from civicloud.domain.capacity import Resources
from civicloud.domain.catalogue import ServiceClass
from civicloud.domain.usage import UsageSample

HOUR = timedelta(hours=1)
_NAMESPACE = uuid.UUID("6f0f1c8e-5b1e-4c53-9d0b-7a4e52a6c0de")


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_second(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class HeldAllocation:
    """An allocation with who borrowed it from whom: what metering needs of it."""

    allocation_id: str
    workload_id: str
    borrower_id: str
    lender_id: str
    site_id: str
    host_id: str
    offering_id: str
    service_class: ServiceClass
    resources: Resources
    start: datetime
    end: datetime | None  # None: still held


@dataclass(frozen=True)
class UsageRecord:
    id: str
    allocation_id: str
    workload_id: str
    borrower_id: str
    lender_id: str
    site_id: str
    host_id: str
    offering_id: str
    service_class: ServiceClass
    hour: datetime
    seconds: int
    vcpu_seconds: int
    memory_mib_seconds: int
    disk_gib_seconds: int
    gpu_seconds: int
    cpu_time_ns: int | None = None  # measured CPU time used in the hour; None: not sampled
    memory_used_mib: int | None = None  # average memory in use over the hour's samples


def record_id(allocation_id: str, hour: datetime) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{allocation_id}@{hour.astimezone(UTC):%Y-%m-%dT%H}"))


def records_for(allocations: Iterable[HeldAllocation], samples: Iterable[UsageSample], start: datetime,
                end: datetime) -> list[UsageRecord]:
    """The usage records of the whole hours in [start, end) (both on hour boundaries), ordered by hour
    then allocation. An allocation still held counts up to ``end``."""
    if start != floor_hour(start) or end != floor_hour(end):
        raise ValueError("metering periods start and end on whole hours")
    by_host: dict[tuple[str, str], list[UsageSample]] = defaultdict(list)
    for s in samples:
        by_host[(s.workload_id, s.host_id)].append(s)
    for series in by_host.values():
        series.sort(key=lambda s: (s.sampled_at, s.id))
    out = []
    for a in allocations:
        held_from = max(floor_second(a.start), start)
        held_to = min(floor_second(a.end), end) if a.end is not None else end
        if held_to <= held_from:
            continue
        series = by_host.get((a.workload_id, a.host_id), [])
        hour = floor_hour(held_from)
        while hour < held_to:
            seconds = int((min(hour + HOUR, held_to) - max(hour, held_from)).total_seconds())
            if seconds > 0:
                cpu, mem = measured(series, hour)
                r = a.resources
                out.append(UsageRecord(record_id(a.allocation_id, hour), a.allocation_id, a.workload_id,
                                       a.borrower_id, a.lender_id, a.site_id, a.host_id, a.offering_id,
                                       a.service_class, hour, seconds, r.vcpus * seconds, r.memory_mib * seconds,
                                       r.disk_gib * seconds, r.gpus * seconds, cpu, mem))
            hour += HOUR
    out.sort(key=lambda rec: (rec.hour, rec.allocation_id))
    return out


def measured(series: Sequence[UsageSample], hour: datetime) -> tuple[int | None, int | None]:
    """(CPU time used in the hour, average memory in use) from one guest's samples on one host, in order.

    Counters are cumulative since the domain started: the hour's CPU time is the last value in the hour
    minus the last value before it; when that goes backwards the domain restarted in between, and the
    hour counts the later value alone (what it used since the restart)."""
    inside = [s for s in series if hour <= s.sampled_at < hour + HOUR]
    if not inside:
        return None, None
    before = [s for s in series if s.sampled_at < hour]
    last = inside[-1].cpu_time_ns
    base = before[-1].cpu_time_ns if before else inside[0].cpu_time_ns
    cpu = last - base if last >= base else last
    used = [s.memory_used_mib if s.memory_used_mib is not None else s.memory_mib for s in inside]
    return cpu, round(sum(used) / len(used))
