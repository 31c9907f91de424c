"""Hosts: what they hold, the owner's reserve and ratios, the power model."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from civicloud.wire.common import In, Out, ResourcesOut


class RatiosOut(Out):
    cpu: float
    ram: float
    disk: float


class HostReserveSet(In):
    """Set by the host's owner: what civicloud never lends, and the allocation ratios of the rest."""

    reserved_vcpus: int = Field(default=0, ge=0, le=100_000)
    reserved_memory_mib: int = Field(default=0, ge=0, le=(1 << 31) - 1)
    reserved_disk_gib: int = Field(default=0, ge=0, le=1 << 30)
    reserved_gpus: int = Field(default=0, ge=0, le=1024)
    cpu_ratio: float = Field(default=4.0, gt=0, le=64)
    ram_ratio: float = Field(default=1.0, gt=0, le=64)
    disk_ratio: float = Field(default=1.0, gt=0, le=64)


class HostPowerSet(In):
    """The host's power draw, for showback's energy: linear between idle and full CPU load."""

    idle_watts: float = Field(ge=0, le=100_000)
    max_watts: float = Field(ge=0, le=100_000)


class DataPlaneOut(Out):
    """What the host's agent last applied of its tenant networks, from its last heartbeat."""

    networks: int
    ports: int
    digest: str = Field(description="of the nftables tables it wrote (empty: none)")
    errors: list[str] = Field(description="its last pass's; empty when all was applied")


class HostOut(Out):
    id: str
    site_id: str
    name: str
    libvirt_uri: str
    total: ResourcesOut
    reserved: ResourcesOut
    ratios: RatiosOut
    lend_share_percent: float = Field(description="share lent right now, from the host's or its site's offer")
    allocated: ResourcesOut
    allocated_guaranteed: ResourcesOut
    owner_used: ResourcesOut = Field(description="what the owner's own VMs hold, as last reported")
    free: ResourcesOut = Field(description="lent now, minus what is allocated")
    cpu_busy_percent: float | None = Field(default=None, description="the whole host's CPU load over its "
                                           "agent's last heartbeat interval, guests included")
    idle_watts: float = Field(default=120.0, description="power at idle (showback's energy model)")
    max_watts: float = Field(default=350.0, description="power at full CPU load")
    generation: int
    last_seen_at: datetime | None
    tunnel_ip: str | None = Field(default=None, description="its address on the sites' underlay, when its agent "
                                  "programs tenant networks")
    data_plane: DataPlaneOut | None = Field(default=None, description="what that agent last applied of them")
