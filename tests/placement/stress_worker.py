"""One scheduler process of the PostgreSQL stress test: queue its share of requests, then place until done."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from civicloud.services.placement import PlacementSettings, place_pending
from civicloud.store import make_engine

from placement_scene import Scene

NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


def run(url: str, member: str, offering: str, count: int, start_at: float) -> tuple[int, int, int]:
    """(workloads this process placed, passes it ran, placements it lost to another scheduler).

    Starts at ``start_at`` so all processes race. Small passes and batches make them interleave."""
    engine = make_engine(url)
    scene = Scene.on(engine, at=NOW)
    with scene.uow_factory() as uow:
        m = uow.members.get_by_name(member)
        o = uow.offerings.get_by_name(offering)
    assert m is not None and o is not None
    scene.members[member], scene.offerings[offering] = m, o
    scene.workloads(member, offering, count, NOW)
    time.sleep(max(0.0, start_at - time.time()))
    settings = PlacementSettings(retries=5, batch=64, claim_batch=8)
    placed = passes = idle = lost = 0
    while idle < 3:
        outcomes = place_pending(scene.uow_factory, settings)
        passes += 1
        won = sum(o.placed for o in outcomes)
        placed += won
        lost += sum(o.message == "no longer pending" or o.message.startswith("lost ") for o in outcomes)
        idle = idle + 1 if won == 0 else 0
    engine.dispose()
    return placed, passes, lost
