"""Showback: what a member's borrowing used, cost, would have cost alone, drew in energy and emitted. Pure.

Energy, per usage record (one workload, one hour), from its host's linear power
model P = idle + (max − idle) × CPU load:

- the idle part is shared by allocation: the workload's vCPUs over the host's
  vCPU capacity (cores × allocation ratio), times the idle power;
- the dynamic part is the CPU time it used (its agent's samples) over the host's
  CPU time in the hour, times (max − idle); an hour without samples counts its
  allocated vCPUs as fully busy — an upper bound, never an under-count.

CO₂ is the energy times the site's grid intensity (gCO₂/kWh; the operator's
national default where the site sets none).

Going alone: what the member would have paid had it owned hardware sized for
its peak — the most vCPU, memory and disk it held at once in any hour of the
period — kept all period long, at its price book's unit prices (at cost for
public bodies).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from civicloud.domain.billing import (
    HOURS_PER_MONTH,
    MIB_PER_GIB,
    Prices,
    Quantities,
    to_cents,
)
from civicloud.domain.metering import UsageRecord

JOULES_PER_KWH = 3_600_000.0


@dataclass(frozen=True)
class PowerModel:
    idle_watts: float
    max_watts: float
    vcpu_capacity: float  # cores × allocation ratio: the vCPUs the host can hold
    cores: float
    carbon_g_per_kwh: float


def record_energy_kwh(r: UsageRecord, host: PowerModel) -> float:
    if r.seconds <= 0 or host.vcpu_capacity <= 0 or host.cores <= 0:
        return 0.0
    vcpus = r.vcpu_seconds / r.seconds
    idle_j = host.idle_watts * (vcpus / host.vcpu_capacity) * r.seconds
    busy_s = r.cpu_time_ns / 1e9 if r.cpu_time_ns is not None else vcpus * r.seconds
    # Its share of the host's CPU time over the hour, times the dynamic power over the hour.
    dynamic_j = (host.max_watts - host.idle_watts) * min(busy_s, host.cores * 3600.0) / host.cores
    return (idle_j + dynamic_j) / JOULES_PER_KWH


@dataclass(frozen=True)
class Peak:
    vcpus: Decimal
    memory_gib: Decimal
    disk_gib: Decimal


def peak(records: Iterable[UsageRecord]) -> Peak:
    """The most held at once in any hour (hour averages: a workload held half the hour counts half)."""
    per_hour: dict[object, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        total = per_hour[r.hour]
        total[0] += r.vcpu_seconds
        total[1] += r.memory_mib_seconds
        total[2] += r.disk_gib_seconds
    if not per_hour:
        return Peak(Decimal(0), Decimal(0), Decimal(0))
    best = [max(v[i] for v in per_hour.values()) for i in range(3)]
    return Peak(Decimal(best[0]) / 3600, Decimal(best[1]) / MIB_PER_GIB / 3600, Decimal(best[2]) / 3600)


def going_alone(p: Peak, prices: Prices, hours: int) -> Decimal:
    """The peak held for ``hours`` at the unit prices, rounded to the cent."""
    h = Decimal(hours)
    return to_cents(p.vcpus * prices.vcpu_hour * h + p.memory_gib * prices.ram_gib_hour * h
                    + p.disk_gib * prices.disk_gib_month * h / HOURS_PER_MONTH)


@dataclass(frozen=True)
class Footprint:
    energy_kwh: float
    co2_kg: float


def footprint(records: Iterable[UsageRecord], hosts: Mapping[str, PowerModel]) -> Footprint:
    kwh = co2 = 0.0
    for r in records:
        host = hosts.get(r.host_id)
        if host is None:
            continue
        e = record_energy_kwh(r, host)
        kwh += e
        co2 += e * host.carbon_g_per_kwh / 1000.0
    return Footprint(kwh, co2)


def by_class(records: Iterable[UsageRecord]) -> dict[str, Quantities]:
    out: dict[str, Quantities] = defaultdict(Quantities)
    for r in records:
        out[r.service_class.value] += Quantities(r.seconds, r.vcpu_seconds, r.memory_mib_seconds, r.disk_gib_seconds,
                                                 r.gpu_seconds)
    return dict(out)
