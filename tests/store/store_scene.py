"""Ids, times and builders the store tests share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from civicloud.domain import DesiredPower, Resources, Workload, WorkloadState

NOW = datetime(2026, 11, 28, 14, 0, 0, 123456, tzinfo=UTC)
HOST_TOTAL = Resources(16, 65536, 1000)
SMALL = Resources(2, 4096, 20)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Scene:
    drancy: str  # member ids
    bobigny: str
    site: str
    h1: str  # host ids
    h2: str
    small: str  # offering id


def make_workload(member_id: str, offering_id: str, name: str, *, state: WorkloadState = WorkloadState.PENDING,
                  host_id: str | None = None, created_at: datetime = NOW) -> Workload:
    return Workload(new_id(), member_id, offering_id, name, state, DesiredPower.RUNNING, host_id, "", created_at,
                    created_at)
