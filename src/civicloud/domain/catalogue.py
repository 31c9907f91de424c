"""The service catalogue: what a member can ask for."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from civicloud.domain.capacity import Resources


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
