"""The catalogue (offerings) and placement groups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from civicloud.domain import (
    GroupPolicy,
    ServiceClass,
)
from civicloud.wire.common import In, Name, Out, Ref, Slug, Text


class OfferingCreate(In):
    name: Slug
    description: Text = ""
    vcpus: int = Field(ge=1, le=512)
    memory_mib: int = Field(ge=16, le=4 * 1024 * 1024)
    disk_gib: int = Field(default=0, ge=0, le=64 * 1024)
    gpus: int = Field(default=0, ge=0, le=64)
    service_class: ServiceClass = ServiceClass.HARVEST
    hds_activities: list[Annotated[int, Field(ge=1, le=6)]] = Field(
        default_factory=list, max_length=6, description="HDS activities the hosting site must hold (e-health)")
    traits: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=4, description="iso27001, secnumcloud")


class OfferingOut(Out):
    id: str
    name: str
    description: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    gpus: int
    service_class: ServiceClass
    hds_activities: list[int]
    traits: list[str]


class PlacementGroupCreate(In):
    member_id: Ref
    name: Name
    policy: GroupPolicy


class PlacementGroupOut(Out):
    id: str
    member_id: str
    name: str
    policy: GroupPolicy
    created_at: datetime
