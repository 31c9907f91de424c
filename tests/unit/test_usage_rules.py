"""Which agents' samples are believed (domain.usage.check_sample), as a table: every rule, at its boundary.

    allocation   2 vCPU, 4096 MiB on hv1, since T0
    now          T0 + 1 h (the control plane's clock)
    previous     sampled at T0 + 30 min: 600 s of CPU, 1 GB read and written, 1 GB received and sent
    candidate    sampled a minute later (T0 + 31 min) unless the case says otherwise

A minute after the previous sample, with SAMPLE_JITTER (5 s) of slack, the guest had 65 s: CPU time may
grow by (2 vCPU + 1 for QEMU's own threads) × 65 s = 195 s, disk bytes by 16 GB/s × 65 s, network bytes by
12.5 GB/s (100 Gbit/s) × 65 s. Its first sample, at T0 + 1 min, may hold what 60 s + CLOCK_SKEW (600 s) +
5 s allow: 3 × 665 s = 1995 s of CPU.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from civicloud.domain.usage import (
    BEFORE_ALLOCATION,
    CLOCK_SKEW,
    COUNTER_BEYOND_LIFETIME,
    COUNTER_BURST,
    COUNTER_RESET_IMPLAUSIBLE,
    DISK_BYTES_PER_S,
    EMULATOR_CPUS,
    IN_FUTURE,
    MEMORY_OVER_ALLOCATION,
    MEMORY_OVERHEAD_MIB,
    MEMORY_USED_OVER_MEMORY,
    NEGATIVE_COUNTER,
    NET_BYTES_PER_S,
    OUT_OF_ORDER,
    SAMPLE_JITTER,
    VCPUS_OVER_ALLOCATION,
    AllocationFacts,
    UsageSample,
    allocation_at,
    ceiling,
    check_sample,
    check_series,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
S = 10**9
GB = 10**9
US = timedelta(microseconds=1)
ALLOCATION = AllocationFacts(vcpus=2, memory_mib=4096, started_at=T0)
PREVIOUS = UsageSample("prev", "w1", "bobigny", "site", "hv1", T0 + timedelta(minutes=30), T0, 2, 600 * S, 4096,
                       2000, GB, GB, GB, GB)
BUSY = replace(PREVIOUS, net_rx_bytes=1000 * GB)  # the same, having received 1 TB
AFTER = PREVIOUS.sampled_at + timedelta(minutes=1)
# What 65 s allow, for this 2-vCPU guest.
CPU_65 = (2 + EMULATOR_CPUS) * 65 * S
DISK_65 = DISK_BYTES_PER_S * 65
NET_65 = NET_BYTES_PER_S * 65
FIRST_CPU = (2 + EMULATOR_CPUS) * (60 + 600 + 5) * S  # the first sample, a minute after the allocation began


def candidate(**changes: object) -> UsageSample:
    """The previous sample a minute later, unchanged: believable."""
    return replace(PREVIOUS, **{"id": "cand", "sampled_at": AFTER, **changes})  # type: ignore[arg-type]


def first(**changes: object) -> UsageSample:
    """A first sample, a minute after the allocation began, counters at zero."""
    return candidate(**{"sampled_at": T0 + timedelta(minutes=1), "cpu_time_ns": 0, "disk_read_bytes": 0,
                        "disk_write_bytes": 0, "net_rx_bytes": 0, "net_tx_bytes": 0, **changes})


CASES = [
    # case, previous, sample, expected code (None: believed)
    ("nothing changed", PREVIOUS, candidate(), None),
    # -- the instant
    ("CLOCK_SKEW ahead of now", None, first(sampled_at=NOW + CLOCK_SKEW), None),
    ("just beyond the skew ahead", None, first(sampled_at=NOW + CLOCK_SKEW + US), IN_FUTURE),
    ("a day ahead", PREVIOUS, candidate(sampled_at=NOW + timedelta(days=1)), IN_FUTURE),
    ("CLOCK_SKEW before the allocation", None, first(sampled_at=T0 - CLOCK_SKEW), None),
    ("just before that", None, first(sampled_at=T0 - CLOCK_SKEW - US), BEFORE_ALLOCATION),
    ("at the previous sample's instant", PREVIOUS, candidate(sampled_at=PREVIOUS.sampled_at), None),
    ("just before the previous sample", PREVIOUS, candidate(sampled_at=PREVIOUS.sampled_at - US), OUT_OF_ORDER),
    # -- the size
    ("fewer vCPUs than allocated", PREVIOUS, candidate(vcpus=1), None),
    ("the allocation's vCPUs", PREVIOUS, candidate(vcpus=2), None),
    ("one vCPU more", PREVIOUS, candidate(vcpus=3), VCPUS_OVER_ALLOCATION),
    ("100,000 vCPUs", PREVIOUS, candidate(vcpus=100_000), VCPUS_OVER_ALLOCATION),
    ("a smaller balloon", PREVIOUS, candidate(memory_mib=2048, memory_used_mib=1000), None),
    ("the allocation's memory", PREVIOUS, candidate(memory_mib=4096), None),
    ("one MiB more", PREVIOUS, candidate(memory_mib=4097), MEMORY_OVER_ALLOCATION),
    ("no balloon figure", PREVIOUS, candidate(memory_used_mib=None), None),
    ("in use: all of it and QEMU's own", PREVIOUS, candidate(memory_used_mib=4096 + MEMORY_OVERHEAD_MIB), None),
    ("in use: one MiB more", PREVIOUS, candidate(memory_used_mib=4096 + MEMORY_OVERHEAD_MIB + 1),
     MEMORY_USED_OVER_MEMORY),
    # -- counters: never negative
    *[(f"{name} negative", None, first(**{name: -1}), NEGATIVE_COUNTER)
      for name in ("cpu_time_ns", "disk_read_bytes", "disk_write_bytes", "net_rx_bytes", "net_tx_bytes")],
    # -- counters: the first sample, bounded by the time since the allocation began
    ("first: all the CPU time possible", None, first(cpu_time_ns=FIRST_CPU), None),
    ("first: 1 ns more", None, first(cpu_time_ns=FIRST_CPU + 1), COUNTER_BEYOND_LIFETIME),
    ("first: CPU counter 2**63 - 1", None, first(cpu_time_ns=2**63 - 1), COUNTER_BEYOND_LIFETIME),
    ("first: disk at 16 GB/s", None, first(disk_read_bytes=DISK_BYTES_PER_S * 665), None),
    ("first: disk beyond", None, first(disk_write_bytes=DISK_BYTES_PER_S * 665 + 1), COUNTER_BEYOND_LIFETIME),
    ("first: network at 100 Gbit/s", None, first(net_tx_bytes=NET_BYTES_PER_S * 665), None),
    ("first: network beyond", None, first(net_rx_bytes=NET_BYTES_PER_S * 665 + 1), COUNTER_BEYOND_LIFETIME),
    ("any: CPU counter 2**63 - 1", PREVIOUS, candidate(cpu_time_ns=2**63 - 1), COUNTER_BEYOND_LIFETIME),
    # -- counters: growth since the previous sample
    ("CPU: all 3 CPUs for 65 s", PREVIOUS, candidate(cpu_time_ns=600 * S + CPU_65), None),
    ("CPU: 1 ns more", PREVIOUS, candidate(cpu_time_ns=600 * S + CPU_65 + 1), COUNTER_BURST),
    ("disk read: 16 GB/s", PREVIOUS, candidate(disk_read_bytes=GB + DISK_65), None),
    ("disk read: 1 byte more", PREVIOUS, candidate(disk_read_bytes=GB + DISK_65 + 1), COUNTER_BURST),
    ("disk write: 1 byte more", PREVIOUS, candidate(disk_write_bytes=GB + DISK_65 + 1), COUNTER_BURST),
    ("net received: 100 Gbit/s", PREVIOUS, candidate(net_rx_bytes=GB + NET_65), None),
    ("net received: 1 byte more", PREVIOUS, candidate(net_rx_bytes=GB + NET_65 + 1), COUNTER_BURST),
    ("net sent: 1 byte more", PREVIOUS, candidate(net_tx_bytes=GB + NET_65 + 1), COUNTER_BURST),
    ("same instant: the jitter's worth", PREVIOUS,
     candidate(sampled_at=PREVIOUS.sampled_at, cpu_time_ns=600 * S + 3 * 5 * S), None),
    ("same instant: more", PREVIOUS,
     candidate(sampled_at=PREVIOUS.sampled_at, cpu_time_ns=600 * S + 3 * 5 * S + 1), COUNTER_BURST),
    # -- counters: a restart since the previous sample (the counter went down)
    ("restart: back to zero", PREVIOUS, candidate(cpu_time_ns=0, disk_read_bytes=0, net_tx_bytes=0), None),
    ("restart: what 65 s allow", PREVIOUS, candidate(cpu_time_ns=CPU_65), None),
    ("restart: 1 ns more", PREVIOUS, candidate(cpu_time_ns=CPU_65 + 1), COUNTER_RESET_IMPLAUSIBLE),
    ("restart: just below the old value", PREVIOUS, candidate(cpu_time_ns=600 * S - 1), COUNTER_RESET_IMPLAUSIBLE),
    ("restart: disk, ten minutes later", PREVIOUS,
     candidate(sampled_at=PREVIOUS.sampled_at + timedelta(minutes=10), disk_write_bytes=GB - 1), None),
    ("restart: network, what 65 s allow", BUSY, candidate(net_rx_bytes=NET_65), None),
    ("restart: network, 1 byte more", BUSY, candidate(net_rx_bytes=NET_65 + 1), COUNTER_RESET_IMPLAUSIBLE),
]


@pytest.mark.parametrize(("case", "previous", "sample", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sample_rules(case: str, previous: UsageSample | None, sample: UsageSample, expected: str | None) -> None:
    refusal = check_sample(ALLOCATION, previous, sample, NOW)
    assert (refusal.code if refusal else None) == expected, refusal
    if refusal is not None:
        assert refusal.message and refusal.field is not None


def test_a_refusal_names_the_counter_at_fault() -> None:
    refusal = check_sample(ALLOCATION, PREVIOUS, candidate(net_tx_bytes=GB + NET_65 + 1), NOW)
    assert refusal is not None and refusal.field == "net_tx_bytes" and "net_tx_bytes" in refusal.message


def test_ceilings() -> None:
    assert ceiling("cpu_time_ns", 4, timedelta(seconds=10)) == (4 + EMULATOR_CPUS) * 10 * S
    assert ceiling("disk_read_bytes", 4, timedelta(seconds=2)) == 2 * DISK_BYTES_PER_S  # not per vCPU
    assert ceiling("net_tx_bytes", 1, timedelta(milliseconds=1)) == NET_BYTES_PER_S // 1000
    assert ceiling("cpu_time_ns", 2, -SAMPLE_JITTER) == 0


# -- a batch: each sample against the latest believed before it ---------------------------------------------


def at(minutes: float, cpu_s: float, name: str) -> tuple[AllocationFacts, UsageSample]:
    return ALLOCATION, first(id=name, sampled_at=T0 + timedelta(minutes=minutes), cpu_time_ns=int(cpu_s * S))


def test_a_batch_is_checked_in_time_order_against_what_was_believed() -> None:
    # Sent out of order; b claims 1000 s of CPU in a minute, c is fine after a (not after b, which is refused).
    batch = [at(3, 20, "c"), at(2, 1000, "b"), at(1, 10, "a")]
    assert [(s.id, r.code if r else None) for s, r in check_series(None, batch, NOW)] == [
        ("a", None), ("b", COUNTER_BURST), ("c", None)]


def test_a_batch_continues_from_the_latest_stored_sample() -> None:
    stored = first(id="stored", sampled_at=T0 + timedelta(minutes=1), cpu_time_ns=0)
    # 100 s after a minute: fine after the stored sample; 150 s a second later is not, after the one accepted.
    batch = [at(2, 100, "s1"), at(2 + 1 / 60, 150, "s2")]
    assert [(s.id, r.code if r else None) for s, r in check_series(stored, batch, NOW)] == [
        ("s1", None), ("s2", COUNTER_BURST)]
    # Alone, s2 would have been believed after the stored sample.
    assert check_series(stored, batch[1:], NOW)[0][1] is None


def test_a_batch_older_than_the_stored_sample_is_out_of_order() -> None:
    stored = first(id="stored", sampled_at=T0 + timedelta(minutes=5), cpu_time_ns=10 * S)
    [(_s, refusal)] = check_series(stored, [at(4, 5, "late")], NOW)
    assert refusal is not None and refusal.code == OUT_OF_ORDER


# -- which allocation a sample belongs to --------------------------------------------------------------------

FIRST = AllocationFacts(1, 1024, T0)
RESIZED = AllocationFacts(2, 2048, T0 + timedelta(hours=1))


@pytest.mark.parametrize(("case", "sampled_at", "expected"), [
    ("during the first", T0 + timedelta(minutes=30), FIRST),
    ("when the second began", T0 + timedelta(hours=1), RESIZED),
    ("after the second began", T0 + timedelta(hours=5), RESIZED),
    ("before the second, within the skew: still the first", T0 + timedelta(minutes=55), FIRST),
    ("before the first, within the skew", T0 - CLOCK_SKEW, FIRST),
    ("before the first, beyond the skew", T0 - CLOCK_SKEW - US, None),
])
def test_allocation_at(case: str, sampled_at: datetime, expected: AllocationFacts | None) -> None:
    assert allocation_at([FIRST, RESIZED], sampled_at) == expected
