"""What the control plane does by itself is in the audit log too: placements, evictions, releases.

Each entry is written by the unit of work that made the change, in its transaction (``domain.events``): a
change rolled back leaves no entry, a change made leaves exactly one, and the chain stays intact.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from civicloud.clock import FrozenClock, system_clock
from civicloud.domain import WorkloadState, events
from civicloud.store import SqlUnitOfWork

from civicloud_support import API, Region, ok


def audit(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    return ok(client.get(f"{API}/audit", params=params), 200)


def test_placement_eviction_and_release_are_audited(client: TestClient, region: Region, app: FastAPI) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta"}
    wid = ok(client.post(f"{API}/workloads", json=body), 202)["id"]
    [placed] = app.state.placer.run_once()
    assert placed.placed
    [entry] = audit(client, action="placement.place")
    assert (entry["actor"], entry["role"], entry["member_id"], entry["outcome"], entry["source"]) == (
        "system:placement", "system", region.members["Bobigny"], 200, "control-plane")
    assert entry["target"] == f"workload={wid},host={placed.host_id}"

    # Drancy takes its hosts back: nothing lent any more, the harvest workload is evicted with notice.
    ok(client.put(f"{API}/sites/{region.sites['drancy-mairie']}/offer",
                  json={"default_percent": 0, "reclaim_notice_s": 60}), 200)
    app.state.placer.run_once()
    [evicted] = audit(client, action="reclaim.evict")
    assert evicted["actor"] == "system:reclaim" and evicted["member_id"] == region.members["Bobigny"]
    assert evicted["target"].startswith(f"workload={wid},host={placed.host_id},deadline=")
    assert ok(client.get(f"{API}/workloads/{wid}"), 200)["state"] == WorkloadState.EVICTING.value

    # Its agent stops it at the deadline: the allocation goes back, on the site's word.
    agent = region.agents["drancy-mairie"]
    agent.report(client, wid, "stopped")
    [released] = audit(client, action="allocation.release")
    assert released["actor"] == f"site:{region.sites['drancy-mairie']}" and released["role"] == "agent"
    assert released["target"] == f"workload={wid},host={placed.host_id},why=stopped_at_deadline"

    everything = audit(client, limit=1000)
    assert [e["seq"] for e in everything] == list(range(len(everything), 0, -1))  # none lost, none twice
    assert ok(client.get(f"{API}/audit/verify"), 200)["intact"] is True


def test_an_event_of_a_change_rolled_back_leaves_no_entry(engine: Engine, region: Region,
                                                          client: TestClient) -> None:
    before = len(audit(client, limit=1000))
    clock = FrozenClock(system_clock())
    with SqlUnitOfWork(engine, clock) as uow:
        uow.emit(events.placed("w-never", region.members["Bobigny"], "h-never"))
        uow.rollback()
        uow.commit()  # nothing left to write: the rollback forgot the event
    with SqlUnitOfWork(engine, clock) as uow:
        uow.emit(events.placed("w-never", region.members["Bobigny"], "h-never"))
        # leaves without commit
    assert len(audit(client, limit=1000)) == before
    with SqlUnitOfWork(engine, clock) as uow:
        uow.emit(events.evicted("w1", region.members["Bobigny"], "h1", clock()),
                 events.eviction_called_off("w1", region.members["Bobigny"], "h1"))
        uow.commit()
    newest = audit(client, limit=2)
    assert [e["action"] for e in newest] == ["reclaim.call_off", "reclaim.evict"]
    assert newest[0]["prev_hash"] == newest[1]["hash"] and newest[0]["at"] == newest[1]["at"]
    assert ok(client.get(f"{API}/audit/verify"), 200)["intact"] is True


def test_events_are_chained_after_entries_written_meanwhile(engine: Engine, region: Region,
                                                            client: TestClient) -> None:
    """Two units of work: the one that commits second chains after the first's entries (the head's CAS)."""
    first, second = SqlUnitOfWork(engine), SqlUnitOfWork(engine)
    with first:
        first.emit(events.placed("w-a", region.members["Bobigny"], "h"))
        first.commit()
    with second:
        second.emit(events.placed("w-b", region.members["Bobigny"], "h"))
        second.commit()
    a, b = audit(client, limit=2)[::-1]
    assert (a["target"], b["target"]) == ("workload=w-a,host=h", "workload=w-b,host=h")
    assert b["seq"] == a["seq"] + 1 and b["prev_hash"] == a["hash"]
