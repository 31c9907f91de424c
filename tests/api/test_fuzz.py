"""schemathesis against the app's own OpenAPI document, authenticated as each role: no server error, and no
answer the document does not describe (status, content type, body schema).

Bounded (a few examples an operation and role) so that `make test` stays quick; `make fuzz` runs the same with
many more (CIVICLOUD_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from civicloud.api import create_app
from civicloud.services import identity
from civicloud.settings import Settings
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("CIVICLOUD_FUZZ_EXAMPLES", "1"))
PASSWORD = "correct horse battery staple"
_DIR = Path(tempfile.mkdtemp(prefix="civicloud-fuzz-"))
_ENGINE = make_engine(f"sqlite:///{_DIR / 'fuzz.db'}")
upgrade(_ENGINE)
APP = create_app(Settings(data_dir=_DIR, database_url=None), engine=_ENGINE, background=False)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
ROLES = ("federation_admin", "auditor", "member_admin", "member_user", "site_operator")
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _ENGINE.dispose()
    shutil.rmtree(_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def tokens() -> dict[str, str]:
    """One user per role (members' staff belong to a member), and a token each."""
    identity.bootstrap(SqlUnitOfWork(_ENGINE), "fuzz-admin", PASSWORD)
    out = {}
    with TestClient(APP) as client:
        login = {"login": "fuzz-admin", "password": PASSWORD}
        admin = {"Authorization": f"Bearer {client.post('/api/v1/auth/tokens', json=login).json()['token']}"}
        member = client.post("/api/v1/members", headers=admin, json={
            "name": "Bobigny", "siren": "219300084", "category": "commune"}).json()["id"]
        out["federation_admin"] = admin["Authorization"]
        for role in ROLES[1:]:
            body = {"login": f"fuzz-{role}", "password": PASSWORD, "roles": [role],
                    "member_id": None if role == "auditor" else member}
            assert client.post("/api/v1/users", headers=admin, json=body).status_code == 201
            token = client.post("/api/v1/auth/tokens", json={"login": f"fuzz-{role}", "password": PASSWORD})
            out[role] = f"Bearer {token.json()['token']}"
    return out


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_promises(case, role: str, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": tokens[role]}, checks=CHECKS)
