"""The cost model: what a lender's capacity costs per unit, so public bodies lend at cost. Pure.

A lender's yearly cost of a host (or a pool of them) is its hardware amortised
over its life, its energy, the staff time it takes and its other yearly costs
(licences, room, support). Divided by the hours of a year and by the share of
capacity expected to be used, it is an hourly cost; split between vCPU, memory
and disk by stated weights (by default 50 / 40 / 10), each part divided by the
capacity sold gives a unit price at cost. Prices are rounded to the
micro-euro, half up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from civicloud.domain.billing import HOURS_PER_MONTH, Prices
from civicloud.errors import InvalidInput

HOURS_PER_YEAR = Decimal(8760)
MICRO = Decimal("0.000001")

# What the model takes, (lowest, highest). The divisors — years, capacities, utilisation — have lower
# bounds that keep every quotient finite and well within Decimal's 28 digits: at the extremes the dearest
# price is about 2·10¹¹ € with its 6 places, 18 digits. The API (wire.billing.CostModelIn) and the CLI
# state the same bounds; cost_model checks them, so nothing outside them reaches the arithmetic.
COST_INPUT_BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    "hardware_eur": (Decimal(0), Decimal(1_000_000_000)),
    "amortisation_years": (Decimal("0.1"), Decimal(50)),
    "power_watts": (Decimal(0), Decimal(10_000_000)),
    "eur_per_kwh": (Decimal(0), Decimal(100)),
    "staff_eur_per_year": (Decimal(0), Decimal(1_000_000_000)),
    "other_eur_per_year": (Decimal(0), Decimal(1_000_000_000)),
    "vcpus": (Decimal(1), Decimal(10_000_000)),
    "memory_gib": (Decimal(1), Decimal(1_000_000_000)),
    "disk_gib": (Decimal(1), Decimal(1_000_000_000)),
    "utilisation": (Decimal("0.01"), Decimal(1)),
    "margin_percent": (Decimal(0), Decimal(1000)),
}


@dataclass(frozen=True)
class CostInputs:
    hardware_eur: Decimal  # purchase price of the hosts
    amortisation_years: Decimal
    power_watts: Decimal  # average draw, cooling included (× the room's PUE if known)
    eur_per_kwh: Decimal
    staff_eur_per_year: Decimal  # the share of the IT department's time these hosts take
    other_eur_per_year: Decimal  # licences, support contracts, the room
    vcpus: Decimal  # vCPUs sold: cores × allocation ratio
    memory_gib: Decimal
    disk_gib: Decimal
    utilisation: Decimal = Decimal("0.7")  # share of the capacity expected to be used over a year
    cpu_weight: Decimal = Decimal("0.5")
    ram_weight: Decimal = Decimal("0.4")
    disk_weight: Decimal = Decimal("0.1")


@dataclass(frozen=True)
class CostBreakdown:
    yearly_eur: Decimal
    hourly_eur: Decimal  # at the stated utilisation
    prices: Prices


def cost_model(i: CostInputs) -> CostBreakdown:
    for name, (low, high) in COST_INPUT_BOUNDS.items():
        if name != "margin_percent":
            _check_bound(name, getattr(i, name), low, high)
    weights = (i.cpu_weight, i.ram_weight, i.disk_weight)
    if not all(w.is_finite() and w >= 0 for w in weights) or sum(weights) != 1:
        raise InvalidInput("the vCPU, memory and disk weights are shares that add up to 1",
                           code="civicloud.pricing.invalid_weights", field="cpu_weight")
    energy = i.power_watts * HOURS_PER_YEAR / 1000 * i.eur_per_kwh
    yearly = i.hardware_eur / i.amortisation_years + energy + i.staff_eur_per_year + i.other_eur_per_year
    hourly = yearly / HOURS_PER_YEAR / i.utilisation
    prices = Prices(vcpu_hour=_micro(hourly * i.cpu_weight / i.vcpus),
                    ram_gib_hour=_micro(hourly * i.ram_weight / i.memory_gib),
                    disk_gib_month=_micro(hourly * i.disk_weight * HOURS_PER_MONTH / i.disk_gib))
    return CostBreakdown(_micro(yearly), _micro(hourly), prices)


def with_margin(prices: Prices, percent: Decimal) -> Prices:
    """Prices raised by ``percent`` (partners under a PPP pay cost plus a margin)."""
    _check_bound("margin_percent", percent, *COST_INPUT_BOUNDS["margin_percent"])
    factor = 1 + percent / 100
    return Prices(**{name: _micro(value * factor) for name, value in vars(prices).items()})


def _check_bound(name: str, value: Decimal, low: Decimal, high: Decimal) -> None:
    # is_finite first: comparing a NaN raises InvalidOperation.
    if not (isinstance(value, Decimal) and value.is_finite() and low <= value <= high):
        raise InvalidInput(f"{name} must be between {low} and {high}, not {value}",
                           code="civicloud.pricing.invalid_input", field=name)


def _micro(value: Decimal) -> Decimal:
    return value.quantize(MICRO, rounding=ROUND_HALF_UP)
