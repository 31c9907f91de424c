"""Positive fuzzing: values that the OpenAPI document says are valid — boundaries and extremes of every number,
date, decimal string and period included (schemathesis's coverage phase, then random valid values) — sent to
every operation as the federation's admin, with the path's ids pointing at objects that exist so that the
values reach the services and the store. Each answer: no 5xx, what the document promises, the security headers;
and after every change that billing reads (agreements, price books, sites, offers), showback and billing still
answer.

Bounded in `make test` (CIVICLOUD_FUZZ_POSITIVE_EXAMPLES, default 1 random example an operation beside the
coverage phase); `.ci/run` runs it deeper through `make fuzz`.

    region: Drancy (lender, site drancy-mairie, 1 host, offer 50 %), Bobigny (borrower, one workload placed),
            the catalogue's vm-small; one billing run of a past month.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from civicloud.api import create_app
from civicloud.services import identity
from civicloud.settings import Settings
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("CIVICLOUD_FUZZ_POSITIVE_EXAMPLES", "1"))
PASSWORD = "correct horse battery staple"
_DIR = Path(tempfile.mkdtemp(prefix="civicloud-fuzz-positive-"))
_ENGINE = make_engine(f"sqlite:///{_DIR / 'fuzz.db'}")
upgrade(_ENGINE)
APP = create_app(Settings(data_dir=_DIR, database_url=None), engine=_ENGINE, background=False)
# A date or an instant is valid per the document whatever its year: give the far ones a fair chance (an
# agreement ending 9999-12-31 once took billing down), beside hypothesis's own.
FAR_DAYS = ["0001-01-01", "1999-12-31", "2000-01-01", "2999-12-31", "3000-01-01", "9999-12-31"]
schemathesis.openapi.format("date", st.one_of(st.sampled_from(FAR_DAYS), st.dates().map(date.isoformat)))
schemathesis.openapi.format("date-time", st.one_of(
    st.sampled_from([f"{d}T00:00:00Z" for d in FAR_DAYS] + ["9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00"]),
    st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE])
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
                    "cache-control": "no-store"}
BILLING_INPUTS = ("/agreements", "/price-books", "/sites", "/offer", "/certifications", "/power")


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _ENGINE.dispose()
    shutil.rmtree(_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """The admin's token, and an existing object for every kind of id a path takes."""
    identity.bootstrap(SqlUnitOfWork(_ENGINE), "fuzz-admin", PASSWORD)
    with TestClient(APP) as client:
        token = client.post("/api/v1/auth/tokens", json={"login": "fuzz-admin", "password": PASSWORD}).json()
        h = {"Authorization": f"Bearer {token['token']}"}

        def post(path: str, body: dict[str, Any] | None = None, status: int = 201) -> Any:
            r = client.post(f"/api/v1{path}", headers=h, json=body)
            assert r.status_code == status, r.text
            return r.json()

        drancy = post("/members", {"name": "Drancy", "siren": "219300290", "category": "commune"})
        bobigny = post("/members", {"name": "Bobigny", "siren": "219300084", "category": "commune"})
        post(f"/members/{bobigny['id']}/agreements", {"kind": "mutualisation_convention", "valid_from": "2026-01-01"})
        site = post("/sites", {"member_id": drancy["id"], "name": "drancy-mairie", "insee_code": "93029"})
        offered = client.put(f"/api/v1/sites/{site['id']}/offer", headers=h, json={"default_percent": 50})
        assert offered.status_code == 200
        join = post(f"/sites/{site['id']}/join-tokens")
        cred = client.post("/api/v1/agent/join", json={"join_token": join["token"], "agent_name": "a"}).json()
        hb = client.post("/api/v1/agent/heartbeat", headers={"Authorization": f"Bearer {cred['credential']}"},
                         json={"hosts": [{"name": "h1", "libvirt_uri": "test:///default", "vcpus": 16,
                                          "memory_mib": 65536, "disk_gib": 1000}]}).json()
        offering = post("/offerings", {"name": "vm-small", "vcpus": 2, "memory_mib": 4096, "disk_gib": 20})
        group = post("/placement-groups", {"member_id": bobigny["id"], "name": "g", "policy": "different_host"})
        workload = post("/workloads", {"member_id": bobigny["id"], "offering_id": "vm-small", "name": "w"}, 202)
        APP.state.placer.run_once()
        tokens = client.get("/api/v1/auth/tokens", headers=h).json()
    return {"headers": h, "ids": {
        "member_id": bobigny["id"], "site_id": site["id"], "host_id": hb["hosts"][0]["id"],
        "offering_id": offering["id"], "group_id": group["id"], "workload_id": workload["id"],
        "token_id": tokens[-1]["id"] if len(tokens) > 1 else "none", "period": "2026-01"}}


def _still_billing(client: TestClient, headers: dict[str, str], member_id: str) -> None:
    for path in (f"/api/v1/members/{member_id}/showback?period=2026-01", "/api/v1/billing/runs"):
        answer = client.get(path, headers=headers)
        assert answer.status_code < 500, (path, answer.text)


# As the federation's admin, who reaches every operation. (Parametrized like test_fuzz.py: without a
# parametrize of its own, pytest-xdist reports the run as one test instead of one per operation.)
@pytest.mark.parametrize("role", ["federation_admin"])
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_valid_values_never_break_the_api(case, role: str, world: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    if case.path_parameters:
        for name in case.path_parameters:
            if name in world["ids"]:
                case.path_parameters[name] = world["ids"][name]
    if case.path.endswith("/auth/tokens/{token_id}") and case.method == "DELETE":
        return  # revoking the fuzzer's own token would end the run
    response = case.call_and_validate(headers=world["headers"], checks=CHECKS)
    headers = {k.lower(): v for k, v in response.headers.items()}
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == [value], (case.method, case.path, name, headers)
    if case.method in ("POST", "PUT") and response.status_code < 300 and any(p in case.path for p in BILLING_INPUTS):
        with TestClient(APP) as client:
            _still_billing(client, world["headers"], world["ids"]["member_id"])
