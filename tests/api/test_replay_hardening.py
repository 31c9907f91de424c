"""Idempotent replays re-authenticate, never hand a secret out twice, are audited as their principal and are
settled in the action's own transaction; errors keep the security headers and the connection; forwarded
addresses are believed only from trusted proxies; bodies that are not JSON get 415; a borrower is not shown
its lender's hosts.

    region (tests/conftest.py): Drancy lends drancy-h1/h2 at 50 %, Bobigny borrows, Avicenne has an HDS site.
    users: admin (federation_admin), dsi (member_admin of Bobigny), agent (member_user of Bobigny),
           tech (site_operator of Drancy).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from civicloud.api.middleware import ClientAddress
from civicloud.domain.secrets import PREFIXES, contains_secret
from civicloud.services import identity
from civicloud.wire import TokenCreate

from civicloud_support import API, Region, bearer, error_code, ok

PASSWORD = "correct horse battery staple"


def login(client: TestClient, who: str, roles: list[str] | None = None) -> dict[str, str]:
    body: dict[str, Any] = {"login": who, "password": PASSWORD, **({"roles": roles} if roles else {})}
    return bearer(ok(client.post(f"{API}/auth/tokens", json=body), 201)["token"])


@pytest.fixture
def people(client: TestClient, region: Region, uow_factory: Any) -> dict[str, dict[str, str]]:
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    admin = login(client, "admin")
    for who, member, roles in (("dsi", "Bobigny", ["member_admin"]), ("agent", "Bobigny", ["member_user"]),
                               ("tech", "Drancy", ["site_operator"])):
        ok(client.post(f"{API}/users", headers=admin, json={"login": who, "password": PASSWORD, "roles": roles,
                                                           "member_id": region.members[member]}), 201)
    return {"admin": admin, **{who: login(client, who) for who in ("dsi", "agent", "tech")}}


def _token_id(client: TestClient, headers: dict[str, str]) -> str:
    tokens = ok(client.get(f"{API}/auth/tokens", headers=headers), 200)
    return str(max(tokens, key=lambda t: t["created_at"])["id"])


def stored_answers(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] or "" for r in conn.execute(text("SELECT response FROM idempotency_keys"))]


def test_a_replay_by_a_revoked_token_is_refused_like_any_request(client: TestClient, region: Region,
                                                                people: dict[str, dict[str, str]]) -> None:
    dsi = people["dsi"]
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta"}
    key = {"Idempotency-Key": "k-revoked"}
    first = ok(client.post(f"{API}/workloads", json=body, headers={**dsi, **key}), 202)
    token_id = _token_id(client, dsi)
    assert client.delete(f"{API}/auth/tokens/{token_id}", headers=dsi).status_code == 204
    replay = client.post(f"{API}/workloads", json=body, headers={**dsi, **key})
    assert error_code(replay, 401) == "civicloud.auth.invalid_token"
    # The same person with a new token is the same principal: the retry gets the first answer.
    again = client.post(f"{API}/workloads", json=body, headers={**login(client, "dsi"), **key})
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first["id"]
    # Another principal's key is another key: never the first answer (here a new request, refused: name taken).
    other = client.post(f"{API}/workloads", json=body, headers={**people["agent"], **key})
    assert error_code(other, 409) == "civicloud.workload.name_taken"
    assert "idempotent-replayed" not in other.headers


def test_a_replay_is_authorized_again(client: TestClient, region: Region, people: dict[str, dict[str, str]]) -> None:
    key = {"Idempotency-Key": "k-user"}
    body = {"login": "compta", "password": PASSWORD, "roles": ["member_user"], "member_id": region.members["Bobigny"]}
    ok(client.post(f"{API}/users", json=body, headers={**people["dsi"], **key}), 201)
    # A user holding two roles logs in with a token that carries only member_user: creating users is not that
    # token's to do, replay or not.
    ok(client.post(f"{API}/users", headers=people["admin"], json={
        "login": "dsi2", "password": PASSWORD, "roles": ["member_admin", "member_user"],
        "member_id": region.members["Bobigny"]}), 201)
    user_only = login(client, "dsi2", roles=["member_user"])
    assert error_code(client.post(f"{API}/users", json=body, headers={**user_only, **key}), 403) == \
        "civicloud.auth.forbidden"


def test_secrets_are_shown_once_whatever_the_retries(client: TestClient, region: Region, engine: Engine,
                                                     people: dict[str, dict[str, str]]) -> None:
    admin, key = people["admin"], {"Idempotency-Key": "k-secret"}
    site = region.sites["drancy-mairie"]
    first = ok(client.post(f"{API}/sites/{site}/join-tokens", headers={**admin, **key}), 201)
    retry = client.post(f"{API}/sites/{site}/join-tokens", headers={**admin, **key})
    assert error_code(retry, 409) == "civicloud.idempotency.secret_shown_once"
    assert site in retry.json()["error"]["message"] and first["token"] not in retry.text
    # Logging in is anonymous: never replayed, each login is a new token.
    login_body = {"login": "dsi", "password": PASSWORD}
    a = ok(client.post(f"{API}/auth/tokens", json=login_body, headers=key), 201)
    b = ok(client.post(f"{API}/auth/tokens", json=login_body, headers=key), 201)
    assert a["token"] != b["token"] and a["id"] != b["id"]
    # A join token is single-use under any retry, key or not.
    join = {"join_token": first["token"], "agent_name": "a"}
    ok(client.post(f"{API}/agent/join", json=join, headers=key), 200)
    assert error_code(client.post(f"{API}/agent/join", json=join, headers=key), 401) == \
        "civicloud.agent.invalid_join_token"
    for answer in stored_answers(engine):
        assert not contains_secret(answer) and not any(p in answer for p in PREFIXES), answer


def test_a_replay_is_audited_as_its_principal(client: TestClient, region: Region,
                                              people: dict[str, dict[str, str]]) -> None:
    body = {"member_id": region.members["Bobigny"], "name": "web", "policy": "different_host"}
    key = {"Idempotency-Key": "k-audit"}
    ok(client.post(f"{API}/placement-groups", json=body, headers={**people["dsi"], **key}), 201)
    client.post(f"{API}/placement-groups", json=body, headers={**people["dsi"], **key})
    entries = ok(client.get(f"{API}/audit", headers=people["admin"], params={"action": "/placement-groups"}), 200)
    assert [(e["actor"], e["member_id"], e["role"], "replay" in e["target"]) for e in entries[:2]] == [
        ("user:dsi", region.members["Bobigny"], "member_admin", True),
        ("user:dsi", region.members["Bobigny"], "member_admin", False)]


def test_concurrent_retries_get_the_first_answer_never_in_progress(client: TestClient, region: Region) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "paie"}
    key = {"Idempotency-Key": "k-race"}
    answers: list[Any] = []

    def post() -> None:
        answers.append(client.post(f"{API}/workloads", json=body, headers=key))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(a.status_code for a in answers) == [202] * 6, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 5
    assert len(ok(client.get(f"{API}/workloads"), 200)) == 1


def test_a_retry_after_a_failure_in_the_action_runs_again(client: TestClient, region: Region,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from civicloud.services import workloads

    real = workloads.create_workload
    calls = []

    def failing_once(uow: Any, caller: Any, cmd: Any) -> Any:
        made = real(uow, caller, cmd)  # the workload is written, then the server fails: nothing of it may stay
        calls.append(made.id)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return made

    monkeypatch.setattr(workloads, "create_workload", failing_once)
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "rh"}
    key = {"Idempotency-Key": "k-fail"}
    failed = client.post(f"{API}/workloads", json=body, headers=key)
    assert error_code(failed, 500) == "civicloud.internal"
    assert failed.headers["x-content-type-options"] == "nosniff" and failed.headers["cache-control"] == "no-store"
    assert ok(client.get(f"{API}/workloads"), 200) == []  # rolled back whole
    retried = ok(client.post(f"{API}/workloads", json=body, headers=key), 202)
    assert [w["id"] for w in ok(client.get(f"{API}/workloads"), 200)] == [retried["id"]]
    outcomes = [e["outcome"] for e in ok(client.get(f"{API}/audit", params={"action": "POST /api/v1/workloads"}),
                                         200)]
    assert outcomes[:2] == [202, 500]  # the failure is audited too
    assert ok(client.get(f"{API}/audit/verify"), 200)["intact"]


@pytest.fixture
def live_app(tmp_path: Any) -> Iterator[tuple[str, int]]:
    """The control plane as ``civicloud server`` runs it (cli.serve's uvicorn configuration), on 127.0.0.1."""
    from civicloud.cli.demo import free_port
    from civicloud.cli.serve import ThreadedServer
    from civicloud.settings import Settings

    port = free_port(0)
    server = ThreadedServer(Settings(data_dir=tmp_path, database_url=None, bind_port=port, api_token=None))
    server.start()
    yield "127.0.0.1", port
    server.stop()


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head


def test_a_served_request_cannot_choose_its_address(live_app: tuple[str, int]) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default: the server must not."""
    body = b'{"name": "vm-x", "vcpus": 1, "memory_mib": 512}'
    with socket.create_connection(live_app, timeout=10) as sock:
        head = _exchange(sock, b"POST /api/v1/offerings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"X-Forwarded-For: 203.0.113.7\r\nContent-Length: " + str(len(body)).encode() +
                         b"\r\n\r\n" + body)
        assert head.startswith(b"HTTP/1.1 201"), head
    import httpx

    entries = httpx.get(f"http://{live_app[0]}:{live_app[1]}/api/v1/audit",
                        params={"action": "POST /api/v1/offerings"}).json()
    assert [e["source"] for e in entries] == ["127.0.0.1"]


def test_an_unexpected_error_keeps_the_headers_and_the_connection(live_app: tuple[str, int],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from civicloud.services import members

    monkeypatch.setattr(members, "list_members", lambda *_a, **_k: 1 / 0)
    get = b"GET /api/v1/members HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(live_app, timeout=10) as sock:
        head = _exchange(sock, get).lower()
        assert head.startswith(b"http/1.1 500")
        for header in (b"x-content-type-options: nosniff", b"x-frame-options: deny", b"referrer-policy: no-referrer",
                       b"cache-control: no-store"):
            assert header in head, head
        assert b"connection: close" not in head
        # The same connection serves the next request.
        again = _exchange(sock, b"GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n").lower()
        assert again.startswith(b"http/1.1 200") and b"x-content-type-options: nosniff" in again


def test_forwarded_addresses_are_ignored_unless_from_a_trusted_proxy(client: TestClient, region: Region) -> None:
    spoof = {"X-Forwarded-For": "203.0.113.7"}
    ok(client.post(f"{API}/offerings", json={"name": "vm-z", "vcpus": 1, "memory_mib": 512}, headers=spoof), 201)
    [entry] = ok(client.get(f"{API}/audit", params={"action": "POST /api/v1/offerings", "limit": 1}), 200)
    assert entry["source"] == "testclient"
    # Ten bad logins from "ten addresses" are ten from one: the eleventh is limited.
    for n in range(10):
        client.post(f"{API}/auth/tokens", json={"login": f"x{n}", "password": PASSWORD},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"})
    limited = client.post(f"{API}/auth/tokens", json={"login": "yy", "password": PASSWORD},
                          headers={"X-Forwarded-For": "198.51.100.99"})
    assert error_code(limited, 429) == "civicloud.auth.rate_limited"


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "seen"), [
    ("127.0.0.1", "203.0.113.7", [], "127.0.0.1"),  # nobody trusted: the header is ignored
    ("127.0.0.1", "203.0.113.7", ["127.0.0.1"], "203.0.113.7"),
    ("10.0.0.5", "203.0.113.7", ["127.0.0.1"], "10.0.0.5"),  # a caller that is not our proxy
    ("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.0.0.9", ["10.0.0.0/8"], "203.0.113.7"),  # the last untrusted hop
    ("127.0.0.1", "not-an-address", ["127.0.0.1"], "127.0.0.1"),
    ("::1", "2001:db8::1", ["::1"], "2001:db8::1"),
])
def test_client_address_table(peer: str, forwarded: str, trusted: list[str], seen: str) -> None:
    got: list[str] = []

    async def app(scope: Any, _receive: Any, _send: Any) -> None:
        got.append(scope["client"][0])

    import anyio

    scope = {"type": "http", "client": (peer, 1234), "headers": [(b"x-forwarded-for", forwarded.encode())]}
    anyio.run(ClientAddress(app, trusted), scope, None, None)
    assert got == [seen]


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    raw = '{"name": "vm-t", "vcpus": 1, "memory_mib": 512}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        refused = client.post(f"{API}/offerings", content=raw, headers={"content-type": content_type})
        assert error_code(refused, 415) == "civicloud.request.unsupported_media_type", content_type
    ok(client.post(f"{API}/offerings", content=raw, headers={"content-type": "application/json; charset=utf-8"}), 201)


def test_a_borrower_sees_the_lending_site_not_the_host(client: TestClient, region: Region, app: FastAPI,
                                                        people: dict[str, dict[str, str]]) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "intranet"}
    created = ok(client.post(f"{API}/workloads", json=body, headers=people["dsi"]), 202)
    app.state.placer.run_once()
    mine = ok(client.get(f"{API}/workloads/{created['id']}", headers=people["dsi"]), 200)
    assert mine["state"] == "scheduled" and mine["host_id"] is None
    assert (mine["site_name"], mine["lender_name"]) == ("drancy-mairie", "Drancy")
    assert "drancy-h" not in mine["message"] and "drancy-mairie" in mine["message"]
    listed = ok(client.get(f"{API}/workloads", headers=people["agent"]), 200)
    assert [w["host_id"] for w in listed] == [None]
    assert ok(client.get(f"{API}/workloads/{created['id']}", headers=people["admin"]), 200)["host_id"] in \
        set(region.agents["drancy-mairie"].hosts.values())


def _post_routes(app: FastAPI) -> list[str]:
    """Every POST route that takes an operator's or a member's credential (login and the agents' channel are
    never replayed)."""
    return sorted(path.removeprefix(API) for path, item in app.openapi()["paths"].items()
                  if "post" in item and not path.startswith(f"{API}/agent/") and path != f"{API}/auth/tokens")


def test_every_route_re_authenticates_its_replays(client: TestClient, region: Region, app: FastAPI,
                                                  people: dict[str, dict[str, str]], uow_factory: Any) -> None:
    """For each POST route: a first request with a key, its token revoked, the retry is 401 — whatever the first
    answer was — and another principal's retry with that key never gets the first answer."""
    ids = {"member_id": region.members["Bobigny"], "site_id": region.sites["drancy-mairie"],
           "host_id": region.host("drancy-h1"), "workload_id": "w", "invoice_id": "i", "kind": "hds",
           "group_id": "g", "period": "2026-01", "security_group_id": "sg", "network_id": "n", "port_id": "p",
           "rule_id": "r"}
    routes = _post_routes(app)
    assert len(routes) >= 15
    for n, route in enumerate(routes):
        path = API + route.format(**ids)
        # Tokens made by the service: the login limit (10 a minute) is not what this test is about.
        token = bearer(identity.issue_token(uow_factory(), TokenCreate(login="admin", password=PASSWORD))[1])
        key = {"Idempotency-Key": f"every-{n}"}
        first = client.post(path, json={}, headers={**token, **key})
        assert first.status_code < 500, (route, first.text)
        assert client.delete(f"{API}/auth/tokens/{_token_id(client, token)}", headers=people["admin"]).status_code \
            == 204
        replay = client.post(path, json={}, headers={**token, **key})
        assert replay.status_code == 401, (route, replay.status_code, replay.text)
        other = client.post(path, json={}, headers={**people["tech"], **key})
        assert "idempotent-replayed" not in other.headers, route


def test_eight_concurrent_writers_lose_no_audit_entry(client: TestClient, region: Region) -> None:
    """Eight clients creating at once: every accepted change has its entry, and the chain is intact (the audit
    head is moved by compare-and-swap inside each request's transaction)."""
    before = ok(client.get(f"{API}/audit/verify"), 200)["entries"]
    answers: list[int] = []
    refusals: list[str] = []

    def writer(n: int) -> None:
        for i in range(6):
            body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": f"w-{n}-{i}"}
            r = client.post(f"{API}/workloads", json=body)
            answers.append(r.status_code)
            if r.status_code != 202:
                refusals.append(r.text)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert answers.count(202) == 48, refusals
    report = ok(client.get(f"{API}/audit/verify"), 200)
    assert report["intact"] and report["entries"] == before + 48
    created = ok(client.get(f"{API}/audit", params={"action": "POST /api/v1/workloads", "limit": 100}), 200)
    assert len(created) == 48 and all(e["outcome"] == 202 for e in created)
    assert len(ok(client.get(f"{API}/workloads"), 200)) == 48
