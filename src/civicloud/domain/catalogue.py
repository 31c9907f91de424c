"""The service catalogue: what a member can ask for, and the placement wishes that go with a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from civicloud.domain.capacity import Resources

TRAITS = frozenset({"iso27001", "secnumcloud"})


class ServiceClass(str, Enum):
    GUARANTEED = "guaranteed"  # never evicted; counts against the lender's committed share
    HARVEST = "harvest"  # runs on surplus, cheaper, evicted with notice


@dataclass(frozen=True)
class Offering:
    id: str
    name: str
    description: str
    resources: Resources
    service_class: ServiceClass
    # Certifications the hosting site must hold: HDS activities 1–6 (e-health), and traits.
    hds_activities: frozenset[int] = frozenset()
    traits: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Residency:
    """Where a workload's data may live; empty tuples mean anywhere."""

    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # INSEE region codes, e.g. 11 for Île-de-France
    departments: tuple[str, ...] = ()

    @property
    def constrained(self) -> bool:
        return bool(self.countries or self.regions or self.departments)


class GroupPolicy(str, Enum):
    SAME_HOST = "same_host"
    DIFFERENT_HOST = "different_host"
    DIFFERENT_SITE = "different_site"


@dataclass(frozen=True)
class PlacementGroup:
    id: str
    member_id: str
    name: str
    policy: GroupPolicy
    created_at: datetime = field(compare=False)
