"""The agent channel: join, heartbeat, desired state, reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from civicloud.domain import DesiredPower
from civicloud.wire.common import Id, In, Instant, Name, Out, Secret, Text, Uri
from civicloud.wire.networks import IPv4Text


class JoinRequest(In):
    join_token: Secret
    agent_name: Name


class JoinResponse(Out):
    site_id: str
    credential: str = Field(description="the site's credential: send it as 'Authorization: Bearer …'")


class DataPlaneIn(In):
    """What the agent last applied of its host's tenant networks."""

    networks: int = Field(ge=0, le=1_000_000)
    ports: int = Field(ge=0, le=10_000_000)
    digest: str = Field(default="", pattern=r"^[0-9a-f]{0,64}$", description="of the nftables tables it wrote")
    errors: list[Text] = Field(default_factory=list, max_length=20, description="its last pass's, if any")


class HostReport(In):
    name: Name = Field(description="the host's name, unique within its site")
    libvirt_uri: Uri
    vcpus: int = Field(ge=1, le=100_000)
    # The store keeps counts in 32-bit INTEGER columns (PostgreSQL refuses more): 2 PiB of RAM is plenty.
    memory_mib: int = Field(ge=1, le=(1 << 31) - 1)
    disk_gib: int = Field(ge=0, le=1 << 30)
    gpus: int = Field(default=0, ge=0, le=1024)
    # What the owner's own VMs (those without civicloud's metadata) hold now.
    owner_vcpus_used: int = Field(default=0, ge=0, le=100_000)
    owner_memory_mib_used: int = Field(default=0, ge=0, le=(1 << 31) - 1)
    # The whole host's CPU load since the previous heartbeat, from libvirt's getCPUStats (None: unknown).
    cpu_busy_percent: float | None = Field(default=None, ge=0, le=100)
    tunnel_ip: IPv4Text | None = Field(default=None, description="the host's address on the sites' underlay, "
                                          "where its networks' VXLAN traffic goes; set when its agent programs "
                                          "tenant networks")
    data_plane: DataPlaneIn | None = Field(default=None, description="what its agent last applied of them")


class Heartbeat(In):
    hosts: list[HostReport] = Field(max_length=1000)


class RegisteredHost(Out):
    id: str
    name: str


class HeartbeatResponse(Out):
    site_id: str
    hosts: list[RegisteredHost]


class DesiredWorkload(Out):
    workload_id: str
    name: str
    offering: str = Field(default="", description="the catalogue offering: picks the guest image on the host")
    host_name: str
    desired: DesiredPower
    vcpus: int
    memory_mib: int
    disk_gib: int
    stop_at: datetime | None = Field(default=None, description="set while the workload is evicted: the agent "
                                     "stops it at this instant, even if the control plane is out of reach then")
    reboot_after: datetime | None = Field(default=None, description="the last reboot asked for: a domain "
                                          "running since before it is power-cycled once")
    nics: list[DesiredNic] = Field(default_factory=list, description="its NICs, in order")


class DesiredNic(Out):
    port_id: str
    mac: str
    ip: str
    vni: int = Field(description="its network's VXLAN identifier: the tap goes on that network's bridge")
    cidr: str = Field(default="", description="the subnet its address is in (the guest's prefix length)")
    gateway: str = ""
    dns: list[str] = Field(default_factory=list)


class PortHere(Out):
    port_id: str
    mac: str
    ip: str
    security_groups: list[str] = Field(default_factory=list, description="the ids of its security groups")


class RemoteMac(Out):
    """A port of the network on another host: where its MAC is, and its address and groups (a rule of a group
    here may name its group as the remote)."""

    mac: str
    tunnel_ip: str
    ip: str = ""
    security_groups: list[str] = Field(default_factory=list)


class SecurityRuleHere(Out):
    id: str
    direction: Literal["ingress", "egress"]
    protocol: Literal["any", "tcp", "udp", "icmp"]
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str | None = None
    remote_group_id: str | None = None


class SecurityGroupHere(Out):
    """A security group of a port on the host, with its rules: the agent enforces them (nftables)."""

    id: str
    rules: list[SecurityRuleHere]


class NetworkHere(Out):
    """What one host must hold of one network: its ports there, and the other hosts holding the network."""

    network_id: str
    vni: int
    ports: list[PortHere]
    peers: list[str] = Field(description="the tunnel addresses of the other hosts holding the network")
    remote: list[RemoteMac] = Field(description="the MACs of its ports on those hosts")


class HostNetworksOut(Out):
    host_name: str
    networks: list[NetworkHere]
    security_groups: list[SecurityGroupHere] = Field(default_factory=list, description="the groups of the "
                                                     "host's ports")


class DesiredState(Out):
    workloads: list[DesiredWorkload]
    networks: list[HostNetworksOut] = Field(default_factory=list, description="per host of the site that holds "
                                            "ports: the tenant networks it must hold")


class ObservedWorkload(In):
    workload_id: Id
    observed: Literal["running", "stopped", "absent", "failed"]
    message: Text = ""
    host_name: Name | None = Field(default=None, description="the host the observation was made on; an "
                                   "observation from a host the workload has left since is ignored")


class Report(In):
    workloads: list[ObservedWorkload] = Field(max_length=10_000)


class ReportResponse(Out):
    accepted: int
    ignored: int


_COUNTER = Field(ge=0, le=(1 << 63) - 1)


class UsageSampleIn(In):
    """What an agent measured of one guest at one instant. Counters are cumulative since the domain started."""

    id: Id = Field(description="chosen by the agent, unique: a sample sent twice is stored once")
    workload_id: Id
    host_name: Name
    sampled_at: Instant
    vcpus: int = Field(ge=0, le=100_000)
    cpu_time_ns: int = _COUNTER
    memory_mib: int = Field(ge=0, le=(1 << 31) - 1)
    memory_used_mib: int | None = Field(default=None, ge=0, le=(1 << 31) - 1)
    disk_read_bytes: int = _COUNTER
    disk_write_bytes: int = _COUNTER
    net_rx_bytes: int = _COUNTER
    net_tx_bytes: int = _COUNTER


class UsageBatch(In):
    samples: list[UsageSampleIn] = Field(max_length=1000)


class RejectedSample(Out):
    """A sample refused for good: the agent forgets it (sending it again would be refused again)."""

    id: str
    reason: str = Field(description="what is wrong, in words")
    code: str = Field(default="civicloud.sample.refused", description="the rule it breaks, stable: "
                      "civicloud.sample.* (see docs/security.md, sample validation)")
    field: str | None = Field(default=None, description="the sample's field at fault, where one is")


class UsageAck(Out):
    """Every sample of the batch is acknowledged: stored now, stored before, or refused for good."""

    accepted: int
    duplicates: int
    rejected: list[RejectedSample]
