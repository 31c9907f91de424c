"""How many SQL statements the hot routes make, counted, so that they do not creep back.

A member's integrator drives the API with its token: create a workload, read it, list, stop. Each request is
counted from the first statement its credential costs to the last of its transaction (the audit entry and
the idempotency answer included). The budgets are what the code makes today; a change that adds statements
to these routes fails here and must say why in the budget's line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from civicloud.services import identity

from civicloud_support import API, Region, ok

PASSWORD = "correct horse battery staple"

# Statements per request (SQLite, PostgreSQL), measured 2026-12-03; SQLite adds a BEGIN IMMEDIATE per
# transaction. A POST on PostgreSQL (13): the token with its user (1), the rate-limit count in its own
# transaction (2), the service's member, offering, name and agreement reads and its insert (5), its
# savepoint (2), the audit head, its move and the entry (3) — the request's last writes, in no savepoint of
# their own. It was 26 (29 on SQLite) before: look-ups by id or name in one query, the body's member checked
# on the row the service reads, the token read with its user, savepoints taken at a block's first write
# only (none for reads, none for the request's last writes).
#
# Tenant networks (2026-12-07) added to a POST its NIC on the member's default network: the network by name (1),
# the default security group's id (1), the addresses held (1), the port and its group (2), and the workload's
# ports in the answer (1): 13 -> 19. A workload's view (GET, the answer of stop) reads its ports: +1 (+2 on
# SQLite, where it is a unit of work of its own outside a request's transaction).
BUDGET = {
    "POST /workloads": (22, 19),
    "POST /workloads (Idempotency-Key)": (28, 25),
    "GET /workloads/{id}": (11, 6),
    "GET /workloads": (10, 6),
    "POST /workloads/{id}/stop": (17, 14),
}


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        statements.append(statement.split()[0].upper() if statement.strip() else "")

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


@pytest.fixture
def integrator(client: TestClient, region: Region, uow_factory: Any) -> dict[str, str]:
    identity.bootstrap(uow_factory(), "admin", PASSWORD)
    admin = {"Authorization": "Bearer " + ok(client.post(f"{API}/auth/tokens", json={
        "login": "admin", "password": PASSWORD}), 201)["token"]}
    ok(client.post(f"{API}/users", headers=admin, json={"login": "it@bobigny", "password": PASSWORD,
                                                        "roles": ["member_admin"],
                                                        "member_id": region.members["Bobigny"]}), 201)
    return {"Authorization": "Bearer " + ok(client.post(f"{API}/auth/tokens", json={
        "login": "it@bobigny", "password": PASSWORD}), 201)["token"]}


def test_the_hot_routes_stay_within_their_statement_budget(client: TestClient, region: Region, engine: Engine,
                                                          integrator: dict[str, str]) -> None:
    body = {"member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "warm-up"}
    ok(client.post(f"{API}/workloads", headers=integrator, json=body), 202)  # the token's last use is stamped
    seen: dict[str, int] = {}
    with counted(engine) as s:
        w = ok(client.post(f"{API}/workloads", headers=integrator, json={**body, "name": "compta"}), 202)
    seen["POST /workloads"] = len(s)
    with counted(engine) as s:
        ok(client.post(f"{API}/workloads", headers={**integrator, "Idempotency-Key": "k-1"},
                       json={**body, "name": "paie"}), 202)
    seen["POST /workloads (Idempotency-Key)"] = len(s)
    with counted(engine) as s:
        ok(client.get(f"{API}/workloads/{w['id']}", headers=integrator), 200)
    seen["GET /workloads/{id}"] = len(s)
    with counted(engine) as s:
        ok(client.get(f"{API}/workloads", headers=integrator), 200)
    seen["GET /workloads"] = len(s)
    client.app.state.placer.run_once()  # type: ignore[attr-defined]
    with counted(engine) as s:
        ok(client.post(f"{API}/workloads/{w['id']}/stop", headers=integrator), 202)
    seen["POST /workloads/{id}/stop"] = len(s)
    column = 1 if engine.dialect.name == "postgresql" else 0
    over = {route: (n, BUDGET[route][column]) for route, n in seen.items() if n > BUDGET[route][column]}
    assert not over, f"statements over budget (made, budget): {over}; all: {seen}"
