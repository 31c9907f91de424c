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

RESOURCE_NAMES = ("vcpus", "memory_mib", "disk_gib", "gpus")  # the order of every resource vector
RESOURCE_LABELS = ("vCPU", "memory", "disk", "GPU")  # the same, as people read them
RESOURCE_UNITS = ("vCPU", "MiB", "GiB", "GPU")


@dataclass(frozen=True)
class Resources:
    vcpus: int = 0
    memory_mib: int = 0
    disk_gib: int = 0
    gpus: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.vcpus + other.vcpus, self.memory_mib + other.memory_mib,
                         self.disk_gib + other.disk_gib, self.gpus + other.gpus)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.vcpus - other.vcpus, self.memory_mib - other.memory_mib,
                         self.disk_gib - other.disk_gib, self.gpus - other.gpus)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.vcpus, self.memory_mib, self.disk_gib, self.gpus)

    def fits_in(self, room: Resources) -> bool:
        return all(need <= have for need, have in zip(self.as_tuple(), room.as_tuple(), strict=True))

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
class DataPlaneState:
    """What a host's agent last applied of its tenant networks (agent/netplan.py), as it reported it: how many
    networks and ports, the digest of the nftables tables it wrote, and the errors of its last pass."""

    networks: int
    ports: int
    digest: str
    errors: tuple[str, ...] = ()


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
    # Share of (total − reserved) × ratio lent right now, 0–100, from the effective offer at read time.
    lend_share_percent: float = 100.0
    allocated_guaranteed: Resources = Resources()
    owner_used: Resources = Resources()  # the owner's own VMs, as the agent last reported
    cpu_busy_percent: float | None = None  # the whole host's CPU load over the agent's last interval
    idle_watts: float = 120.0  # its power model, linear between idle and full load (showback's energy)
    max_watts: float = 350.0
    tunnel_ip: str | None = None  # its address on the underlay, when its agent programs tenant networks
    data_plane: DataPlaneState | None = None  # what that agent last applied of them, as it reported

    def lendable(self) -> Resources:
        share = self.lend_share_percent / 100.0
        return Resources(
            vcpus=_floor((self.total.vcpus - self.reserved.vcpus) * self.ratios.cpu * share),
            memory_mib=_floor((self.total.memory_mib - self.reserved.memory_mib) * self.ratios.ram * share),
            disk_gib=_floor((self.total.disk_gib - self.reserved.disk_gib) * self.ratios.disk * share),
            gpus=_floor((self.total.gpus - self.reserved.gpus) * share),
        )

    def free(self) -> Resources:
        return self.lendable() - self.allocated


def _floor(value: float) -> int:
    # A tiny epsilon so that e.g. 0.7 × 10 = 6.999… counts as 7.
    return max(0, math.floor(value + 1e-9))

