"""Workloads: requests, their placement, usage samples."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from civicloud.domain import (
    DesiredPower,
    ServiceClass,
    WorkloadState,
)
from civicloud.wire.common import In, Name, Out, Ref
from civicloud.wire.networks import NicIn, NicOut

Code = Annotated[str, Field(min_length=1, max_length=3, pattern=r"^[0-9A-Z]{1,3}$")]


class ResidencyIn(In):
    countries: list[Annotated[str, Field(pattern=r"^[A-Z]{2}$")]] = Field(default_factory=list, max_length=30)
    regions: list[Code] = Field(default_factory=list, max_length=30, description="INSEE region codes, e.g. 11")
    departments: list[Code] = Field(default_factory=list, max_length=101, description="e.g. 93, 2A, 971")


class WorkloadCreate(In):
    member_id: Ref = Field(description="the borrowing member (id or name)")
    offering_id: Ref = Field(description="id or name of a catalogue offering")
    name: Name
    group: Ref | None = Field(default=None, description="a placement group of the member (id or name)")
    residency: ResidencyIn | None = None
    networks: list[NicIn] | None = Field(default=None, max_length=8, description="its NICs, in order; if left "
                                         "out, one on the member's 'default' network (made on first need); [] for "
                                         "none")


class WorkloadResize(In):
    offering_id: Ref = Field(description="id or name of the offering to resize to (same service class)")


class PlacementReason(Out):
    filter: str
    code: str
    text: str
    hosts: int


class PlacementOut(Out):
    summary: str
    reasons: list[PlacementReason]
    decided_at: datetime


class WorkloadOut(Out):
    id: str
    member_id: str
    offering_id: str
    name: str
    state: WorkloadState
    desired: DesiredPower
    host_id: str | None = Field(description="the host it runs on: shown to the host's lender and the federation's "
                                "staff only (a host is its lender's business); null for the borrower")
    site_id: str | None = Field(default=None, description="the lending site it runs at, once placed")
    site_name: str | None = Field(default=None, description="the lending site's name")
    lender_id: str | None = Field(default=None, description="the member lending the capacity")
    lender_name: str | None = Field(default=None, description="the lending member's name")
    message: str = Field(description="why the workload is where it is, e.g. the last placement decision")
    service_class: ServiceClass
    group_id: str | None
    residency: ResidencyIn
    placement: PlacementOut | None = Field(description="the last placement decision while it was pending")
    reboot_requested_at: datetime | None = Field(default=None, description="the last reboot asked for")
    evict_deadline: datetime | None = Field(default=None, description="while evicting: when its host's agent "
                                            "stops it, unless it is re-placed elsewhere first")
    created_at: datetime
    updated_at: datetime
    nics: list[NicOut] = Field(default_factory=list, description="its ports on its networks, in order")


class UsageSampleOut(Out):
    """One measurement of a guest by its host's agent; counters are cumulative since the domain started."""

    id: str
    workload_id: str
    host_id: str
    site_id: str
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
