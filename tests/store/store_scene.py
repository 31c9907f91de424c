"""Ids, times and builders the store tests share."""

from __future__ import annotations

import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def run_place_pending(database_url: str, settings: Any, start: Any, results: Any) -> None:
    """A scheduler in a process of its own (a control-plane replica): one ``place_pending`` pass.

    Puts the outcomes as tuples on ``results``, or the traceback as text if anything failed.
    Lives here, not in the test module, so that a spawned process can import it by name.
    """
    from civicloud.services.placement import place_pending
    from civicloud.store import SqlUnitOfWork, make_engine

    engine = make_engine(database_url)
    try:
        start.wait(timeout=60)
        outcomes = place_pending(lambda: SqlUnitOfWork(engine), settings)
        results.put([(o.workload_id, o.placed, o.host_id, o.message) for o in outcomes])
    except BaseException:
        results.put(traceback.format_exc())
    finally:
        engine.dispose()
