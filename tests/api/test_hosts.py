"""/api/v1/hosts: hosts come from agents (join + heartbeat); create → read → conflict (no delete yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from civicloud_support import (
    API,
    SIREN_DRANCY,
    Region,
    create_member,
    create_site,
    error_code,
    host_report,
    join_site,
    ok,
)

ZERO = {"vcpus": 0, "memory_mib": 0, "disk_gib": 0, "gpus": 0}


def test_create_by_heartbeat(client: TestClient) -> None:
    member = create_member(client, "Drancy", SIREN_DRANCY, "commune")
    site = create_site(client, member["id"], "drancy-mairie", "93029")
    ok(client.put(f"{API}/sites/{site['id']}/offer", json={"default_percent": 50}), 200)
    agent = join_site(client, site["id"])
    assert ok(client.get(f"{API}/hosts"), 200) == []  # joining alone makes no host
    before = datetime.now(UTC)
    agent.heartbeat(client, host_report("drancy-h1", 16, 65536, 1000))
    host = ok(client.get(f"{API}/hosts/{agent.hosts['drancy-h1']}"), 200)
    assert host["site_id"] == site["id"] and host["name"] == "drancy-h1"
    assert host["libvirt_uri"] == "test:///default"
    assert host["total"] == {"vcpus": 16, "memory_mib": 65536, "disk_gib": 1000, "gpus": 0}
    assert host["reserved"] == ZERO
    assert host["ratios"] == {"cpu": 4.0, "ram": 1.0, "disk": 1.0}
    assert host["lend_share_percent"] == 50.0
    assert host["allocated"] == host["allocated_guaranteed"] == host["owner_used"] == ZERO
    assert host["free"] == {"vcpus": 32, "memory_mib": 32768, "disk_gib": 500, "gpus": 0}
    assert host["generation"] == 0
    assert datetime.fromisoformat(host["last_seen_at"]) >= before - timedelta(seconds=1)


def test_read(client: TestClient, region: Region) -> None:
    hosts = ok(client.get(f"{API}/hosts"), 200)
    assert [h["name"] for h in hosts] == ["avicenne-h1", "drancy-h1", "drancy-h2"]  # by site, then name
    drancy = ok(client.get(f"{API}/hosts", params={"site_id": region.sites["drancy-mairie"]}), 200)
    assert [h["name"] for h in drancy] == ["drancy-h1", "drancy-h2"]
    assert ok(client.get(f"{API}/hosts", params={"site_id": "drancy-mairie"}), 200) == drancy  # by site name
    avicenne = ok(client.get(f"{API}/hosts/{region.host('avicenne-h1')}"), 200)
    assert avicenne["lend_share_percent"] == 0.0 and avicenne["free"]["vcpus"] == 0  # no offer: nothing lent


def test_read_unknown(client: TestClient, region: Region) -> None:
    assert error_code(client.get(f"{API}/hosts/no-such-host"), 404) == "civicloud.host.not_found"
    assert error_code(client.get(f"{API}/hosts", params={"site_id": "nowhere"}), 404) == "civicloud.site.not_found"


def test_reporting_a_known_name_refreshes_the_host(client: TestClient, region: Region) -> None:
    """A host's name is unique within its site: the same name again is the same host, with new totals."""
    agent = region.agents["drancy-mairie"]
    old_id = agent.hosts["drancy-h1"]
    agent.heartbeat(client, host_report("drancy-h1", 32, 131072, 2000))
    assert agent.hosts["drancy-h1"] == old_id
    host = ok(client.get(f"{API}/hosts/{old_id}"), 200)
    assert host["total"] == {"vcpus": 32, "memory_mib": 131072, "disk_gib": 2000, "gpus": 0}
    assert host["generation"] == 1  # claims decided on the old totals must fail
    assert len(ok(client.get(f"{API}/hosts", params={"site_id": agent.site_id}), 200)) == 2


def test_same_name_on_another_site_is_another_host(client: TestClient, region: Region) -> None:
    avicenne = region.agents["avicenne-dc"]
    avicenne.heartbeat(client, host_report("drancy-h1"))
    assert avicenne.hosts["drancy-h1"] != region.agents["drancy-mairie"].hosts["drancy-h1"]
    assert len(ok(client.get(f"{API}/hosts"), 200)) == 4


def test_an_offer_change_shows_on_the_hosts(client: TestClient, region: Region) -> None:
    h1 = region.host("drancy-h1")
    generation = ok(client.get(f"{API}/hosts/{h1}"), 200)["generation"]
    ok(client.put(f"{API}/sites/drancy-mairie/offer", json={"default_percent": 25}), 200)
    host = ok(client.get(f"{API}/hosts/{h1}"), 200)
    assert host["lend_share_percent"] == 25.0
    assert host["free"] == {"vcpus": 16, "memory_mib": 16384, "disk_gib": 250, "gpus": 0}
    assert host["generation"] == generation + 1


def test_a_host_offer_shows_on_that_host_only(client: TestClient, region: Region) -> None:
    h1, h2 = region.host("drancy-h1"), region.host("drancy-h2")
    ok(client.put(f"{API}/hosts/{h1}/offer", json={"default_percent": 100}), 200)
    assert ok(client.get(f"{API}/hosts/{h1}"), 200)["free"] == {"vcpus": 64, "memory_mib": 65536, "disk_gib": 1000,
                                                                "gpus": 0}
    assert ok(client.get(f"{API}/hosts/{h2}"), 200)["lend_share_percent"] == 50.0


def test_gpus_and_the_owners_load_are_reported(client: TestClient, region: Region) -> None:
    agent = region.agents["drancy-mairie"]
    agent.heartbeat(client, {**host_report("drancy-h1"), "gpus": 2, "owner_vcpus_used": 6,
                             "owner_memory_mib_used": 16384})
    host = ok(client.get(f"{API}/hosts/{agent.hosts['drancy-h1']}"), 200)
    assert host["total"]["gpus"] == 2 and host["free"]["gpus"] == 1  # 50 % of 2 GPUs, no overcommit
    assert host["owner_used"] == {"vcpus": 6, "memory_mib": 16384, "disk_gib": 0, "gpus": 0}


def test_owner_sets_reserve_and_ratios(client, region) -> None:  # type: ignore[no-untyped-def]
    """The reserve is never lent: it leaves the host's capacity, and a reserve above the host is refused."""
    host = client.get("/api/v1/hosts").json()[0]
    before = host["generation"]
    body = {"reserved_vcpus": 4, "reserved_memory_mib": 8192, "cpu_ratio": 2.0, "ram_ratio": 1.0}
    resp = client.put(f"/api/v1/hosts/{host['id']}/reserve", json=body)
    assert resp.status_code == 200, resp.text
    after = resp.json()
    assert (after["reserved"]["vcpus"], after["reserved"]["memory_mib"], after["ratios"]["cpu"]) == (4, 8192, 2.0)
    assert after["generation"] > before
    share = after["lend_share_percent"] / 100
    assert after["free"]["vcpus"] == int((after["total"]["vcpus"] - 4) * 2.0 * share) - after["allocated"]["vcpus"]
    too_big = client.put(f"/api/v1/hosts/{host['id']}/reserve", json={"reserved_vcpus": 10_000})
    assert too_big.status_code == 422 and too_big.json()["error"]["code"] == "civicloud.host.reserve_too_large"
    assert client.put("/api/v1/hosts/nope/reserve", json={}).json()["error"]["code"] == "civicloud.host.not_found"
