"""CIVICLOUD_API_TOKEN: when set, every non-agent route needs it; agents keep their own credential."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud_support import API, SIREN_DRANCY, bearer, error_code, ok

TOKEN = "s3cret-operator-token"


@pytest.fixture
def guarded(app: FastAPI) -> FastAPI:
    app.state.settings = app.state.settings.model_copy(update={"api_token": TOKEN})
    return app


def operator_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(method.upper(), re.sub(r"{\w+}", "some-id", path))
            for path, item in app.openapi()["paths"].items() for method in item
            if not path.startswith(f"{API}/agent/") and path != f"{API}/healthz"
            and (method, path) != ("post", f"{API}/auth/tokens")]  # the login itself takes a password


@pytest.mark.parametrize(("case", "headers"), [
    ("no header", {}),
    ("wrong token", bearer("not-the-token")),
    ("token with a suffix", bearer(TOKEN + "x")),
    ("token as basic auth", {"Authorization": f"Basic {TOKEN}"}),
])
def test_every_operator_route_needs_the_token(guarded: FastAPI, client: TestClient, case: str,
                                              headers: dict[str, str]) -> None:
    routes = operator_routes(guarded)
    assert len(routes) >= 20  # walked from the OpenAPI document: new routes are covered too
    for method, url in routes:
        r = client.request(method, url, headers=headers, json={})
        assert error_code(r, 401) == "civicloud.auth.unauthorized", (method, url)
        assert r.headers["www-authenticate"] == "Bearer"


def test_with_the_token_the_api_answers(guarded: FastAPI, client: TestClient) -> None:
    for method, url in operator_routes(guarded):
        r = client.request(method, url, headers=bearer(TOKEN), json={})
        assert r.status_code != 401, (method, url, r.text)
    created = ok(client.post(f"{API}/members", headers=bearer(TOKEN), json={
        "name": "Drancy", "siren": SIREN_DRANCY, "category": "commune"}), 201)
    assert ok(client.get(f"{API}/members/{created['id']}", headers=bearer(TOKEN)), 200) == created


def test_health_and_agent_join_need_no_operator_token(guarded: FastAPI, client: TestClient) -> None:
    assert ok(client.get(f"{API}/healthz"), 200)["status"] == "ok"
    r = client.post(f"{API}/agent/join", json={"join_token": "cvj_" + "A" * 43, "agent_name": "a"})
    assert error_code(r, 401) == "civicloud.agent.invalid_join_token"  # refused for the token, not for auth


def test_the_operator_token_is_not_a_site_credential(guarded: FastAPI, client: TestClient) -> None:
    for method, route in (("GET", "desired"), ("POST", "heartbeat"), ("POST", "report")):
        body = {"hosts": []} if route == "heartbeat" else {"workloads": []}
        r = client.request(method, f"{API}/agent/{route}", headers=bearer(TOKEN), json=body)
        assert error_code(r, 401) == "civicloud.agent.invalid_credential"


def test_without_a_token_setting_the_api_is_open(client: TestClient) -> None:
    assert ok(client.get(f"{API}/members"), 200) == []
