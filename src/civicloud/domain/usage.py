"""Usage samples: what an agent measured of one guest at one instant, and what makes one believable.

An agent is the lender's software on the lender's machine: what it reports is billed to the borrower and
shown to both. So a sample is stored only if it is something the guest could have done with what its
allocation holds, in the time it has had. The rules (``check_sample``; every refusal names its rule with
a stable code below, and the counter it concerns):

- **the instant**: ``sampled_at`` is at most ``CLOCK_SKEW`` ahead of the control plane's clock
  (``in_future``), and not before the allocation on that host began, by more than that skew
  (``before_allocation``: the guest cannot have run before it was placed there). Within one workload on
  one host samples only move forward: one dated before the latest stored is refused (``out_of_order``),
  as time-series stores refuse out-of-order writes; counters are checked against their predecessor and
  an old sample slipped in behind newer ones would change the difference metering bills.
- **the size**: ``vcpus`` and ``memory_mib`` do not exceed the allocation (``vcpus_over_allocation``,
  ``memory_over_allocation``; less is fine: a balloon or an unplugged vCPU); ``memory_used_mib`` does
  not exceed ``memory_mib`` by more than ``MEMORY_OVERHEAD_MIB`` (``memory_used_over_memory``; libvirt
  reports the QEMU process's resident set, which holds QEMU's own memory next to the guest's).
- **the counters** (CPU time, disk and network bytes) are cumulative since the domain started, never
  negative (``negative_counter``), and grow no faster than the hardware allows: CPU time by
  ``vcpus + EMULATOR_CPUS`` CPU-seconds a second, each disk direction by ``DISK_BYTES_PER_S``, each
  network direction by ``NET_BYTES_PER_S``. Two ceilings follow, each with ``SAMPLE_JITTER`` of slack:
  - since the allocation began (plus ``CLOCK_SKEW``: that instant is the control plane's): no counter
    can hold more (``counter_beyond_lifetime``). This bounds the first sample of an allocation.
  - since the previous sample of the workload on that host: a counter that grew, grew by no more
    (``counter_burst``); a counter that went down means the domain restarted after the previous sample,
    so its new value was all earned since then and obeys the same bound (``counter_reset_implausible``).
    That is what metering bills for the period (the difference, or the new value after a restart), so
    exactly the billed quantity is bounded.

The rates are generous on purpose: a refused sample is lost (the agent drops it), a believed absurd one
is billed. They only have to make impossible what no real guest does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class UsageSample:
    """Counters (CPU time, disk and network bytes) are cumulative since the domain started: a period's
    use is the difference between two samples, or the later one alone after a restart reset them."""

    id: str
    workload_id: str
    member_id: str
    site_id: str
    host_id: str
    sampled_at: datetime
    received_at: datetime
    vcpus: int
    cpu_time_ns: int
    memory_mib: int
    memory_used_mib: int | None
    disk_read_bytes: int
    disk_write_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int


# Why a sample is refused. Codes never change once released: agents and operators match on them.
UNKNOWN_HOST = "civicloud.sample.unknown_host"
NOT_HELD = "civicloud.sample.not_held"
IN_FUTURE = "civicloud.sample.in_future"
BEFORE_ALLOCATION = "civicloud.sample.before_allocation"
OUT_OF_ORDER = "civicloud.sample.out_of_order"
VCPUS_OVER_ALLOCATION = "civicloud.sample.vcpus_over_allocation"
MEMORY_OVER_ALLOCATION = "civicloud.sample.memory_over_allocation"
MEMORY_USED_OVER_MEMORY = "civicloud.sample.memory_used_over_memory"
NEGATIVE_COUNTER = "civicloud.sample.negative_counter"
COUNTER_BEYOND_LIFETIME = "civicloud.sample.counter_beyond_lifetime"
COUNTER_BURST = "civicloud.sample.counter_burst"
COUNTER_RESET_IMPLAUSIBLE = "civicloud.sample.counter_reset_implausible"

# How far an agent's clock may be off the control plane's: NTP keeps hosts within far less, a host
# without it drifts by seconds a day. Applies where the two clocks meet: "now" and the allocation's start.
CLOCK_SKEW = timedelta(minutes=10)
# Between the instant an agent stamps on a pass and the moment libvirt reads a guest's counters (hosts
# sampled one after the other, getAllDomainStats over many guests on a busy host).
SAMPLE_JITTER = timedelta(seconds=5)
# libvirt's cpu.time is the whole QEMU process's, not only its vCPU threads': its main loop, I/O threads
# and vhost-net workers can keep about one more host CPU busy under heavy I/O (and TCG does without KVM).
EMULATOR_CPUS = 1
# Per direction. A guest's disks sit on the host's storage or, with QEMU's default writeback cache, in its
# page cache: NVMe drives read 7 GB/s (PCIe 4.0 x4), a memory copy about 10 GB/s a stream. 16 GB/s is more
# than a guest gets from either.
DISK_BYTES_PER_S = 16 * 10**9
# Per direction: 100 Gbit/s, the fastest NIC a community site has; virtio-net through vhost does less,
# and guest-to-guest traffic on one bridge is bounded by the same memory copies.
NET_BYTES_PER_S = 100 * 10**9 // 8
# libvirt's balloon.rss is the QEMU process's resident set: guest RAM plus QEMU's heap, device models and
# video memory, a few hundred MiB at most.
MEMORY_OVERHEAD_MIB = 512

_COUNTERS = ("cpu_time_ns", "disk_read_bytes", "disk_write_bytes", "net_rx_bytes", "net_tx_bytes")
_NS = 10**9


@dataclass(frozen=True)
class AllocationFacts:
    """What a workload's allocation on one host holds, and since when (the control plane's clock)."""

    vcpus: int
    memory_mib: int
    started_at: datetime


@dataclass(frozen=True)
class Refusal:
    """Why a sample is not believed: a stable ``code``, words for people, and the field at fault."""

    code: str
    message: str
    field: str | None = None


def allocation_at(allocations: Sequence[AllocationFacts], at: datetime) -> AllocationFacts | None:
    """The allocation a sample dated ``at`` belongs to, among the workload's allocations on one host: the
    latest begun by then; failing that, the first begun within ``CLOCK_SKEW`` after (the agent's clock
    may lag); None when none had begun."""
    begun = [a for a in allocations if a.started_at <= at]
    if begun:
        return max(begun, key=lambda a: a.started_at)
    near = [a for a in allocations if a.started_at <= at + CLOCK_SKEW]
    return min(near, key=lambda a: a.started_at) if near else None


def check_sample(allocation: AllocationFacts, previous: UsageSample | None, sample: UsageSample,
                 now: datetime) -> Refusal | None:
    """None when ``sample`` is believable, else the first rule it breaks (see the module's docstring).
    ``previous`` is the latest sample believed of the same workload on the same host, if any."""
    if sample.sampled_at > now + CLOCK_SKEW:
        return Refusal(IN_FUTURE, f"dated {sample.sampled_at:%Y-%m-%d %H:%M:%S}Z, more than {_minutes(CLOCK_SKEW)} "
                                  "ahead of the control plane's clock: check the host's clock (NTP)", "sampled_at")
    if sample.sampled_at < allocation.started_at - CLOCK_SKEW:
        return Refusal(BEFORE_ALLOCATION, f"dated before the workload's allocation on this host began "
                                          f"({allocation.started_at:%Y-%m-%d %H:%M:%S}Z)", "sampled_at")
    if previous is not None and sample.sampled_at < previous.sampled_at:
        return Refusal(OUT_OF_ORDER, f"dated before a sample already stored of this workload on this host "
                                     f"({previous.sampled_at:%Y-%m-%d %H:%M:%S}Z): samples only move forward",
                       "sampled_at")
    if sample.vcpus > allocation.vcpus:
        return Refusal(VCPUS_OVER_ALLOCATION, f"{sample.vcpus} vCPUs, and the allocation holds "
                                              f"{allocation.vcpus}", "vcpus")
    if sample.memory_mib > allocation.memory_mib:
        return Refusal(MEMORY_OVER_ALLOCATION, f"{sample.memory_mib} MiB of memory, and the allocation holds "
                                               f"{allocation.memory_mib} MiB", "memory_mib")
    if sample.memory_used_mib is not None and sample.memory_used_mib > sample.memory_mib + MEMORY_OVERHEAD_MIB:
        return Refusal(MEMORY_USED_OVER_MEMORY, f"{sample.memory_used_mib} MiB in use out of {sample.memory_mib} "
                                                f"MiB (QEMU's own {MEMORY_OVERHEAD_MIB} MiB allowed)",
                       "memory_used_mib")
    for name in _COUNTERS:
        if getattr(sample, name) < 0:
            return Refusal(NEGATIVE_COUNTER, f"{name} is negative", name)
    lifetime = sample.sampled_at - allocation.started_at + CLOCK_SKEW + SAMPLE_JITTER
    for name in _COUNTERS:
        value, most = getattr(sample, name), ceiling(name, allocation.vcpus, lifetime)
        if value > most:
            return Refusal(COUNTER_BEYOND_LIFETIME, f"{name} is {value:,}: more than {most:,} possible in the "
                                                    f"{_seconds(lifetime)} since the allocation began", name)
    if previous is None:
        return None
    elapsed = sample.sampled_at - previous.sampled_at + SAMPLE_JITTER
    for name in _COUNTERS:
        before, value, most = getattr(previous, name), getattr(sample, name), ceiling(name, allocation.vcpus, elapsed)
        if value >= before and value - before > most:
            return Refusal(COUNTER_BURST, f"{name} grew by {value - before:,} since the previous sample: more than "
                                          f"{most:,} possible in {_seconds(elapsed)}", name)
        if value < before and value > most:
            return Refusal(COUNTER_RESET_IMPLAUSIBLE, f"{name} went down from {before:,} to {value:,}: a restart, "
                                                      f"but {value:,} is more than {most:,} possible in the "
                                                      f"{_seconds(elapsed)} since the previous sample", name)
    return None


def check_series(previous: UsageSample | None, candidates: Iterable[tuple[AllocationFacts, UsageSample]],
                 now: datetime) -> list[tuple[UsageSample, Refusal | None]]:
    """The samples of one workload on one host, checked in ``sampled_at`` order (then id), each against
    the latest believed before it: ``previous`` (the latest stored), then each one accepted."""
    out: list[tuple[UsageSample, Refusal | None]] = []
    for allocation, sample in sorted(candidates, key=lambda c: (c[1].sampled_at, c[1].id)):
        refusal = check_sample(allocation, previous, sample, now)
        if refusal is None:
            previous = sample
        out.append((sample, refusal))
    return out


def ceiling(counter: str, vcpus: int, span: timedelta) -> int:
    """The most ``counter`` can grow in ``span`` for a guest of ``vcpus`` (0 for a span ≤ 0)."""
    ns = max(0, span // timedelta(microseconds=1)) * 1000
    if counter == "cpu_time_ns":
        return (vcpus + EMULATOR_CPUS) * ns
    rate = DISK_BYTES_PER_S if counter.startswith("disk_") else NET_BYTES_PER_S
    return rate * ns // _NS


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():,.0f} s"


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"
