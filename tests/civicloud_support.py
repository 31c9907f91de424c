"""Helpers that drive the API the way people and agents do; shared by the API and malformed-input tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from civicloud.domain.identity import Principal, Role

API = "/api/v1"
# The federation's operator, for tests that drive the services directly (as any front would).
OPERATOR = Principal("user:operator", frozenset({Role.FEDERATION_ADMIN}))

# SIRENs whose Luhn checksum is right (checked with stdnum.fr.siren in tests/unit/test_legal_identity.py).
SIREN_DRANCY = "219300290"
SIREN_BOBIGNY = "219300084"
SIREN_AVICENNE = "267500452"


def ok(response: Any, status: int) -> Any:
    """The JSON of ``response`` after checking its status (the body is shown when it is wrong)."""
    assert response.status_code == status, response.text
    return response.json()


def error_code(response: Any, status: int) -> str:
    """The stable error code of an error response, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_member(client: TestClient, name: str, siren: str, category: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "siren": siren, "category": category, **extra}
    return ok(client.post(f"{API}/members", json=body), 201)


def create_site(client: TestClient, member_id: str, name: str, insee_code: str, **extra: Any) -> dict[str, Any]:
    body = {"member_id": member_id, "name": name, "insee_code": insee_code, **extra}
    return ok(client.post(f"{API}/sites", json=body), 201)


def host_report(name: str, vcpus: int = 16, memory_mib: int = 65536, disk_gib: int = 1000) -> dict[str, Any]:
    return {"name": name, "libvirt_uri": "test:///default", "vcpus": vcpus, "memory_mib": memory_mib,
            "disk_gib": disk_gib}


@dataclass
class Agent:
    """A site's agent as the control plane sees it: its credential and the hosts it reported."""

    site_id: str
    credential: str
    hosts: dict[str, str] = field(default_factory=dict)  # name -> id

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.credential)

    def heartbeat(self, client: TestClient, *reports: dict[str, Any]) -> dict[str, str]:
        body = ok(client.post(f"{API}/agent/heartbeat", json={"hosts": list(reports)}, headers=self.headers), 200)
        self.hosts.update({h["name"]: h["id"] for h in body["hosts"]})
        return self.hosts

    def report(self, client: TestClient, workload_id: str, observed: str) -> dict[str, int]:
        body = {"workloads": [{"workload_id": workload_id, "observed": observed}]}
        return ok(client.post(f"{API}/agent/report", json=body, headers=self.headers), 200)


def join_site(client: TestClient, site_id: str, *reports: dict[str, Any], agent_name: str = "agent-1",
              headers: dict[str, str] | None = None) -> Agent:
    """Make hosts exist the only way they can: a join token, a join, then a heartbeat."""
    token = ok(client.post(f"{API}/sites/{site_id}/join-tokens", headers=headers), 201)["token"]
    joined = ok(client.post(f"{API}/agent/join", json={"join_token": token, "agent_name": agent_name}), 200)
    assert joined["site_id"] == site_id
    agent = Agent(site_id, joined["credential"])
    if reports:
        agent.heartbeat(client, *reports)
    return agent


@dataclass
class Region:
    members: dict[str, str]  # name -> id
    sites: dict[str, str]  # name -> id
    agents: dict[str, Agent]  # site name -> its agent
    offerings: dict[str, str]  # name -> id

    def host(self, name: str) -> str:
        for agent in self.agents.values():
            if name in agent.hosts:
                return agent.hosts[name]
        raise KeyError(name)


