"""POST /api/v1/agent/usage: samples outside what the allocation and the counters allow are refused.

    site drancy-mairie ── host drancy-h1 ── Bobigny's "compta" (vm-small: 2 vCPU, 4096 MiB), placed just now
    site avicenne-dc   ── host avicenne-h1 (nothing of Bobigny's)

Each refused sample comes back in the acknowledgement with its stable code and the field at fault, and
nothing of it is stored; good samples of the same batch are stored. The rules are domain/usage.py's (a
table of them at their boundaries: tests/unit/test_usage_rules.py); here they are driven through the API.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud.clock import system_clock as utcnow

from civicloud_support import API, Agent, Region, ok

S = 10**9


@pytest.fixture
def placed(app: FastAPI, client: TestClient, region: Region) -> str:
    """Bobigny's workload 'compta', placed on drancy-h1: it holds an allocation there from now on."""
    w = ok(client.post(f"{API}/workloads", json={"member_id": region.members["Bobigny"], "offering_id": "vm-small",
                                                 "name": "compta"}), 202)
    app.state.placer.run_once()
    assert ok(client.get(f"{API}/workloads/{w['id']}"), 200)["host_id"] == region.host("drancy-h1")
    return str(w["id"])


def sample(workload_id: str, at: datetime, cpu_s: float = 0, host: str = "drancy-h1", **fields: Any) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "workload_id": workload_id, "host_name": host, "sampled_at": at.isoformat(),
            "vcpus": 2, "cpu_time_ns": int(cpu_s * S), "memory_mib": 4096, "memory_used_mib": 1500,
            "disk_read_bytes": 0, "disk_write_bytes": 0, "net_rx_bytes": 0, "net_tx_bytes": 0}
    return {**body, **fields}


def send(client: TestClient, agent: Agent, *samples: dict[str, Any]) -> dict[str, Any]:
    return dict(ok(client.post(f"{API}/agent/usage", headers=agent.headers, json={"samples": list(samples)}), 200))


def stored(client: TestClient, workload_id: str) -> set[str]:
    return {s["id"] for s in ok(client.get(f"{API}/workloads/{workload_id}/samples"), 200)}


def refusals(ack: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {r["id"]: (r["code"], r["field"]) for r in ack["rejected"]}


def test_good_samples_are_stored(client: TestClient, region: Region, placed: str) -> None:
    drancy, t = region.agents["drancy-mairie"], utcnow()
    good = [sample(placed, t, 10), sample(placed, t + timedelta(seconds=60), 110, disk_read_bytes=10**9,
                                          net_rx_bytes=10**9)]
    assert send(client, drancy, *good) == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert stored(client, placed) == {s["id"] for s in good}


def test_impossible_samples_are_refused_each_with_its_reason(client: TestClient, region: Region,
                                                               placed: str) -> None:
    drancy, t = region.agents["drancy-mairie"], utcnow()
    # Two good samples: 100 s of CPU in a minute (at most (2 vCPU + QEMU's 1) × 65 s = 195 s).
    base = [sample(placed, t, 10), sample(placed, t + timedelta(seconds=60), 110)]
    assert send(client, drancy, *base)["accepted"] == 2
    t2 = t + timedelta(seconds=60)
    bad = {
        "vcpus": (sample(placed, t2 + timedelta(seconds=30), 120, vcpus=100_000),
                  ("civicloud.sample.vcpus_over_allocation", "vcpus")),
        "memory": (sample(placed, t2 + timedelta(seconds=30), 120, memory_mib=65536),
                   ("civicloud.sample.memory_over_allocation", "memory_mib")),
        "cpu 2**63-1": (sample(placed, t2 + timedelta(seconds=30), cpu_time_ns=2**63 - 1),
                        ("civicloud.sample.counter_beyond_lifetime", "cpu_time_ns")),
        "decreasing": (sample(placed, t2 + timedelta(seconds=10), 100),  # a "restart" that used 100 s in 10 s
                       ("civicloud.sample.counter_reset_implausible", "cpu_time_ns")),
        "cpu burst": (sample(placed, t2 + timedelta(seconds=60), 110 + 1000),
                      ("civicloud.sample.counter_burst", "cpu_time_ns")),
        "net burst": (sample(placed, t2 + timedelta(seconds=1), 111, net_tx_bytes=10**12),  # 1 TB in a second
                      ("civicloud.sample.counter_burst", "net_tx_bytes")),
        "future": (sample(placed, utcnow() + timedelta(days=1), 200),
                   ("civicloud.sample.in_future", "sampled_at")),
        "before placement": (sample(placed, t - timedelta(days=1), 0),
                             ("civicloud.sample.before_allocation", "sampled_at")),
        "out of order": (sample(placed, t + timedelta(seconds=30), 50),
                         ("civicloud.sample.out_of_order", "sampled_at")),
        "another host": (sample(placed, t2, 110, host="drancy-h2"), ("civicloud.sample.not_held", "workload_id")),
        "unknown host": (sample(placed, t2, 110, host="nowhere"), ("civicloud.sample.unknown_host", "host_name")),
    }
    # A good one after them all, in the same batch: checked against the last good sample, not the refused.
    good = sample(placed, t2 + timedelta(seconds=120), 110 + 200)
    ack = send(client, drancy, *[s for s, _r in bad.values()], good)
    assert (ack["accepted"], ack["duplicates"]) == (1, 0)
    assert refusals(ack) == {s["id"]: reason for s, reason in bad.values()}
    assert all(r["reason"] for r in ack["rejected"])  # words for the operator, next to the code
    assert stored(client, placed) == {base[0]["id"], base[1]["id"], good["id"]}
    # Sent again (an agent that lost the answer), a refused sample is refused again, never stored: now it is
    # also behind the good one stored since, which is the first rule it breaks.
    again = send(client, drancy, bad["vcpus"][0])
    assert (again["accepted"], again["duplicates"]) == (0, 0)
    assert refusals(again) == {bad["vcpus"][0]["id"]: ("civicloud.sample.out_of_order", "sampled_at")}
    assert bad["vcpus"][0]["id"] not in stored(client, placed)


def test_a_batch_is_checked_in_time_order(client: TestClient, region: Region, placed: str) -> None:
    drancy, t = region.agents["drancy-mairie"], utcnow()
    a, b, c = sample(placed, t, 10), sample(placed, t + timedelta(seconds=60), 500), \
        sample(placed, t + timedelta(seconds=120), 60)
    ack = send(client, drancy, c, b, a)  # out of order in the batch: a, then b (refused), then c after a
    assert ack["accepted"] == 2 and refusals(ack) == {b["id"]: ("civicloud.sample.counter_burst", "cpu_time_ns")}
    assert stored(client, placed) == {a["id"], c["id"]}


def test_a_restart_resets_the_counters(client: TestClient, region: Region, placed: str) -> None:
    drancy, t = region.agents["drancy-mairie"], utcnow()
    before = sample(placed, t, 150, disk_write_bytes=5 * 10**9)
    after = sample(placed, t + timedelta(seconds=60), 20)  # rebooted since: 20 s of CPU, nothing written yet
    assert send(client, drancy, before)["accepted"] == 1
    assert send(client, drancy, after) == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert stored(client, placed) == {before["id"], after["id"]}


def test_the_first_sample_is_bounded_by_the_time_since_placement(client: TestClient, region: Region,
                                                                  placed: str) -> None:
    drancy, t = region.agents["drancy-mairie"], utcnow()
    # Placed a moment ago: with the clock skew allowed (10 min), 3 CPUs × ~605 s at most; a day is impossible.
    ack = send(client, drancy, sample(placed, t, 86_400))
    assert [r["code"] for r in ack["rejected"]] == ["civicloud.sample.counter_beyond_lifetime"]
    assert stored(client, placed) == set()
    assert send(client, drancy, sample(placed, t, 1000))["accepted"] == 1
