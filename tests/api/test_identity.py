"""Users, passwords and API tokens: login, roles, revocation, expiry; the open mode ends with the first user."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from civicloud.services import identity

from civicloud_support import API, error_code, ok

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(client: TestClient, uow_factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    token = ok(client.post(f"{API}/auth/tokens", json={"login": "admin", "password": PASSWORD}), 201)
    return {"Authorization": f"Bearer {token['token']}"}


def test_the_first_user_ends_the_open_mode(client: TestClient, uow_factory) -> None:  # type: ignore[no-untyped-def]
    assert ok(client.get(f"{API}/auth/whoami"), 200)["actor"] == "open-api"  # a fresh loopback server
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    assert error_code(client.get(f"{API}/members"), 401) == "civicloud.auth.unauthorized"
    with pytest.raises(Exception) as again:
        identity.bootstrap(uow_factory(), "admin2", PASSWORD)
    assert getattr(again.value, "code", "") == "civicloud.user.already_bootstrapped"


def test_login_then_act_as_the_federation_admin(client: TestClient, admin: dict[str, str]) -> None:
    me = ok(client.get(f"{API}/auth/whoami", headers=admin), 200)
    assert me == {"actor": "user:admin", "roles": ["federation_admin"], "member_id": None}
    ok(client.post(f"{API}/members", headers=admin, json={"name": "Drancy", "siren": "219300290",
                                                          "category": "commune"}), 201)
    [entry] = ok(client.get(f"{API}/audit", headers=admin, params={"action": "/members"}), 200)
    assert (entry["actor"], entry["role"]) == ("user:admin", "federation_admin")  # the audit names the person
    bad = client.post(f"{API}/auth/tokens", json={"login": "admin", "password": "wrong password here"})
    assert error_code(bad, 401) == "civicloud.auth.bad_login"
    unknown = client.post(f"{API}/auth/tokens", json={"login": "nobody", "password": PASSWORD})
    assert error_code(unknown, 401) == "civicloud.auth.bad_login"
    assert unknown.json()["error"]["message"] == bad.json()["error"]["message"]  # which one was wrong is not said


def test_an_auditor_reads_and_changes_nothing(client: TestClient, admin: dict[str, str]) -> None:
    ok(client.post(f"{API}/users", headers=admin, json={"login": "cnil", "password": PASSWORD,
                                                        "roles": ["auditor"]}), 201)
    token = ok(client.post(f"{API}/auth/tokens", json={"login": "cnil", "password": PASSWORD}), 201)["token"]
    auditor = {"Authorization": f"Bearer {token}"}
    assert ok(client.get(f"{API}/audit/verify", headers=auditor), 200)["intact"]
    assert ok(client.get(f"{API}/members", headers=auditor), 200) == []
    refused = client.post(f"{API}/members", headers=auditor, json={"name": "X", "siren": "219300290",
                                                                   "category": "commune"})
    assert error_code(refused, 403) == "civicloud.auth.forbidden"


def test_a_member_admin_sees_its_own_member_only(client: TestClient, admin: dict[str, str]) -> None:
    member = ok(client.post(f"{API}/members", headers=admin, json={"name": "Bobigny", "siren": "219300084",
                                                                   "category": "commune"}), 201)
    other = ok(client.post(f"{API}/members", headers=admin, json={"name": "Drancy", "siren": "219300290",
                                                                  "category": "commune"}), 201)
    ok(client.post(f"{API}/users", headers=admin, json={"login": "dsi-bobigny", "password": PASSWORD,
                                                        "member_id": member["id"], "roles": ["member_admin"]}), 201)
    token = ok(client.post(f"{API}/auth/tokens", json={"login": "dsi-bobigny", "password": PASSWORD}), 201)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert ok(client.get(f"{API}/auth/whoami", headers=headers), 200)["member_id"] == member["id"]
    assert [m["id"] for m in ok(client.get(f"{API}/members", headers=headers), 200)] == [member["id"]]
    assert error_code(client.get(f"{API}/members/{other['id']}", headers=headers), 404) == "civicloud.member.not_found"
    assert error_code(client.get(f"{API}/audit", headers=headers), 403) == "civicloud.auth.forbidden"
    wrong = client.post(f"{API}/users", headers=admin, json={"login": "x-op", "password": PASSWORD,
                                                             "member_id": member["id"], "roles": ["auditor"]})
    assert error_code(wrong, 422) == "civicloud.user.invalid_roles"


def test_revoked_and_expired_tokens_are_refused(client: TestClient, admin: dict[str, str], engine: Engine) -> None:
    created = ok(client.post(f"{API}/auth/tokens", json={"login": "admin", "password": PASSWORD, "name": "script",
                                                         "ttl_days": 1}), 201)
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert ok(client.get(f"{API}/members", headers=headers), 200) == []
    assert client.delete(f"{API}/auth/tokens/{created['id']}", headers=admin).status_code == 204
    assert error_code(client.get(f"{API}/members", headers=headers), 401) == "civicloud.auth.invalid_token"
    listed = {t["id"]: t["revoked_at"] for t in ok(client.get(f"{API}/auth/tokens", headers=admin), 200)}
    assert listed[created["id"]] is not None
    expiring = ok(client.post(f"{API}/auth/tokens", json={"login": "admin", "password": PASSWORD}), 201)
    with engine.begin() as conn:  # as if its day had passed
        conn.execute(text("UPDATE api_tokens SET expires_at = :past WHERE id = :id"),
                     {"past": (datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None), "id": expiring["id"]})
    stale = client.get(f"{API}/members", headers={"Authorization": f"Bearer {expiring['token']}"})
    assert error_code(stale, 401) == "civicloud.auth.invalid_token"
    too_much = client.post(f"{API}/auth/tokens", json={"login": "admin", "password": PASSWORD,
                                                       "roles": ["auditor"]})
    assert error_code(too_much, 403) == "civicloud.auth.role_not_held"


def test_passwords_and_tokens_are_never_stored_nor_logged_in_clear(client: TestClient, uow_factory, engine: Engine,  # type: ignore[no-untyped-def]
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    token = ok(client.post(f"{API}/auth/tokens", json={"login": "admin", "password": PASSWORD}), 201)["token"]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
        secrets_ = [r[0] for r in conn.execute(text("SELECT secret_hash FROM api_tokens"))]
        dump = " ".join(str(v) for table in ("users", "api_tokens", "audit_log")
                        for row in conn.execute(text(f"SELECT * FROM {table}")) for v in row)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert token not in secrets_ and PASSWORD not in dump and token not in dump
    assert PASSWORD not in caplog.text and token not in caplog.text
    weak = client.post(f"{API}/users", headers={"Authorization": f"Bearer {token}"},
                       json={"login": "weak", "password": "short", "roles": ["auditor"]})
    assert error_code(weak, 422) == "civicloud.user.weak_password"
    assert "short" not in weak.text  # an error never echoes a password


def test_logins_are_rate_limited(client: TestClient, uow_factory) -> None:  # type: ignore[no-untyped-def]
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    answers = [client.post(f"{API}/auth/tokens", json={"login": "admin", "password": "not the password"}).status_code
               for _ in range(12)]
    assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]


def test_an_api_token_is_rate_limited(client: TestClient, admin: dict[str, str], app) -> None:  # type: ignore[no-untyped-def]
    app.state.settings = app.state.settings.model_copy(update={"token_requests_per_minute": 10})
    answers = [client.get(f"{API}/members", headers=admin).status_code for _ in range(12)]
    assert answers[:10] == [200] * 10 and answers[10:] == [429, 429]
    refused = client.get(f"{API}/members", headers=admin)
    assert "too many requests with this API token" in refused.text
    # When one more is admitted, as HTTP says it (the clock is the system's: within the window and the next).
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert f"retry in {refused.headers['retry-after']} s" in refused.json()["error"]["message"]
