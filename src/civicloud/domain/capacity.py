"""Capacity arithmetic of a host: what it can lend, and what is left.

lendable = (total − reserved) × allocation ratio × offer share
free     = lendable − allocated

Rounded down to whole units so that a host never promises a fraction it
cannot give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from civicloud.errors import InvalidInput

RESOURCE_NAMES = ("vcpus", "memory_mib", "disk_gib")


@dataclass(frozen=True)
class Resources:
    vcpus: int = 0
    memory_mib: int = 0
    disk_gib: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.vcpus + other.vcpus, self.memory_mib + other.memory_mib,
                         self.disk_gib + other.disk_gib)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.vcpus - other.vcpus, self.memory_mib - other.memory_mib,
                         self.disk_gib - other.disk_gib)

    def fits_in(self, room: Resources) -> bool:
        return (self.vcpus <= room.vcpus and self.memory_mib <= room.memory_mib
                and self.disk_gib <= room.disk_gib)

    def shortfalls(self, room: Resources) -> list[str]:
        """Names of the resources this request needs more of than ``room`` has."""
        return [name for name in RESOURCE_NAMES if getattr(self, name) > getattr(room, name)]


@dataclass(frozen=True)
class Ratios:
    cpu: float = 4.0
    ram: float = 1.0
    disk: float = 1.0

    def __post_init__(self) -> None:
        for name in ("cpu", "ram", "disk"):
            value = getattr(self, name)
            if not (0 < value <= 64):
                raise InvalidInput(f"{name} allocation ratio must be above 0 and at most 64, not {value}",
                                   code="civicloud.host.invalid_ratio", field=f"{name}_ratio")


@dataclass(frozen=True)
class Host:
    id: str
    site_id: str
    name: str
    libvirt_uri: str
    total: Resources
    reserved: Resources
    ratios: Ratios
    allocated: Resources
    generation: int
    last_seen_at: datetime | None
    # Share of (total − reserved) the site's offer lends, 0–100; set from the site's offer.
    lend_share_percent: float = 100.0

    def lendable(self) -> Resources:
        share = self.lend_share_percent / 100.0
        return Resources(
            vcpus=_floor((self.total.vcpus - self.reserved.vcpus) * self.ratios.cpu * share),
            memory_mib=_floor((self.total.memory_mib - self.reserved.memory_mib) * self.ratios.ram * share),
            disk_gib=_floor((self.total.disk_gib - self.reserved.disk_gib) * self.ratios.disk * share),
        )

    def free(self) -> Resources:
        return self.lendable() - self.allocated


def _floor(value: float) -> int:
    # A tiny epsilon so that e.g. 0.7 × 10 = 6.999… counts as 7.
    return max(0, math.floor(value + 1e-9))


def check_share(percent: float) -> float:
    if not (0 <= percent <= 100):
        raise InvalidInput(f"an offer lends between 0 and 100 % of each host, not {percent}",
                           code="civicloud.offer.invalid_share", field="share_percent")
    return percent
