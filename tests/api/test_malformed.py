"""Every route, every method, fed malformed input: the answer is a 4xx with a civicloud error code.

The cases are generated from ``app.openapi()``, so a new route is covered the
day it is added. For each operation the test first builds a plausible request
(real ids for the parameters it knows by name, schema-shaped values for the
rest), then breaks one thing at a time: the body's bytes, its top-level type,
each field's type and value (2**70, NUL bytes, 10,000 characters, NaN),
required fields left out, unknown fields added, absurd path and query values,
bad credentials, and methods the path does not take. NUL bytes and integers
beyond 64 bits are what PostgreSQL refuses where SQLite does not, so the test
runs on both.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from civicloud.api import create_app
from civicloud.domain import Allocation, Resources, ServiceClass
from civicloud.settings import Settings
from civicloud.store import make_engine

from civicloud_support import API, Region, bearer, ok

OPERATOR_TOKEN = "operator-token-for-the-malformed-input-tests"
PASSWORD = "correct horse battery staple"
HUGE = 2**70


def _openapi() -> dict[str, Any]:
    # Building the app connects to nothing: the engine is only used by requests.
    app = create_app(Settings(database_url="sqlite://"), engine=make_engine("sqlite://"), background=False)
    return app.openapi()


OPENAPI = _openapi()
OPERATIONS = [(method.upper(), path) for path, item in OPENAPI["paths"].items() for method in item]
PATHS = sorted(OPENAPI["paths"])


# -- a plausible request, from the schema ----------------------------------------------


@dataclass
class Known:
    """Values of parameters the test knows by name; the rest is made up from the schema."""

    values: dict[str, Any]
    per_path: dict[str, dict[str, Any]] = field(default_factory=dict)  # what differs on one route

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def for_path(self, path: str) -> Known:
        return Known({**self.values, **self.per_path.get(path, {})})


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = OPENAPI["components"]["schemas"][name]
    return schema


def non_null(schema: dict[str, Any]) -> dict[str, Any]:
    schema = resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return resolve(next(s for s in schema[key] if resolve(s).get("type") != "null"))
    return schema


def nullable(schema: dict[str, Any]) -> bool:
    schema = resolve(schema)
    return any(resolve(s).get("type") == "null" for s in schema.get("anyOf", []) + schema.get("oneOf", []))


STRING_CANDIDATES = ["93029", "219300084", "probe", "abcdefghijklmnopqrstuvwx", "Europe/Paris", "test:///default"]
NAME_HINTS = {"timezone": "Europe/Paris", "libvirt_uri": "test:///default", "name": "probe", "country": "FR",
              "countries": "FR", "regions": "11", "departments": "93", "start": "08:00", "end": "19:00",
              "traits": "iso27001", "cidr": "10.77.0.0/24", "dns": "9.9.9.9"}


def entries(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema's fixed properties, or for a mapping (``dict[Enum, Model]``) its first allowed key."""
    if "properties" in schema:
        return dict(schema["properties"])
    values = schema.get("additionalProperties")
    keys = resolve(schema.get("propertyNames", {})).get("enum")
    if isinstance(values, dict) and keys:
        return {keys[0]: values}
    return {}


def example(schema: dict[str, Any], name: str, known: Known) -> Any:
    if known.get(name) is not None:
        return known.get(name)
    schema = non_null(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        # Every field, so that each gets broken. Optional nullable ones start as null, except objects
        # (such as a workload's residency), whose own fields must get broken too.
        required = set(schema.get("required", []))
        return {prop: None if prop not in required and nullable(sub) and non_null(sub).get("type") != "object"
                else example(sub, prop, known) for prop, sub in entries(schema).items()}
    if kind == "array":
        return [example(schema.get("items", {}), name, known)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "date":
        return "2030-01-01"
    if schema.get("format") == "date-time":
        return "2030-01-01T00:00:00Z"
    candidates = ([NAME_HINTS[name]] if name in NAME_HINTS else []) + STRING_CANDIDATES
    for candidate in candidates:
        if (schema.get("minLength", 0) <= len(candidate) <= schema.get("maxLength", 10**9)
                and re.search(schema.get("pattern", ""), candidate)):
            return candidate
    return "x" * max(1, schema.get("minLength", 1))


# -- what to break -------------------------------------------------------------------------


def wrong_values(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """Values that break ``schema``: the wrong type, out of any range, NUL bytes, far too long."""
    base = non_null(schema)
    kind = base.get("type", "string" if "enum" in base else None)
    values: list[tuple[str, Any]] = [("2**70", HUGE), ("-2**70", -HUGE), ("NUL", "\x00"), ("NUL inside", "a\x00b"),
                                     ("10000 chars", "x" * 10_000), ("object", {"a": 1})]
    if kind != "array":
        values.append(("list", [1, 2]))
    if kind in ("integer", "number"):
        values += [("NaN", float("nan")), ("Infinity", float("inf")), ("text", "abc"), ("numeric text", "1e999")]
    if kind == "integer":
        values += [("fraction", 1.5)]
    if kind == "boolean":
        values += [("text", "maybe"), ("number", 2)]
    if kind == "string" or "enum" in base:
        values += [("number", 42), ("boolean", True), ("NUL-padded", "abc" + "\x00" * 3),
                   ("NUL after unicode", "ünïcødé ☃\x00")]
    if kind == "array":
        values += [("list of wrong items", [HUGE, "\x00"]), ("text", "abc")]
    if kind == "object":
        values += [("text", "abc"), ("list", [])]
    if not nullable(schema):
        values.append(("null", None))
    if base.get("format") == "date":
        values += [("impossible date", "2030-02-30"), ("year 0", "0000-01-01"), ("far future", "99999-01-01")]
    if base.get("format") == "date-time":
        values += [("no offset", "2030-01-01T00:00:00"), ("impossible instant", "2030-02-30T00:00:00Z"),
                   ("overflows in UTC", "9999-12-31T23:59:59-14:00"),
                   ("underflows in UTC", "0001-01-01T00:00:00+14:00"), ("year 1", "0001-01-01T00:00:00Z")]
    return values


def leaves(schema: dict[str, Any], value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...],
                                                                                         dict[str, Any]]]:
    """Every position in the example body, with its schema: each gets broken in turn."""
    schema_nn = non_null(schema)
    if at:
        yield at, schema
    if isinstance(value, dict):
        for key, sub in entries(schema_nn).items():
            yield from leaves(sub, value[key], (*at, key))
    elif isinstance(value, list) and value:
        yield from leaves(schema_nn.get("items", {}), value[0], (*at, 0))


def objects(schema: dict[str, Any], value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...],
                                                                                          dict[str, Any]]]:
    """Every object in the example body (to drop its required fields, or add unknown ones)."""
    schema_nn = non_null(schema)
    if isinstance(value, dict):
        yield at, schema_nn
        for key, sub in entries(schema_nn).items():
            yield from objects(sub, value[key], (*at, key))
    elif isinstance(value, list) and value:
        yield from objects(schema_nn.get("items", {}), value[0], (*at, 0))


def replaced(body: Any, at: tuple[Any, ...], new: Any) -> Any:
    out = copy.deepcopy(body)
    target = out
    for step in at[:-1]:
        target = target[step]
    target[at[-1]] = new
    return out


def edited(body: Any, at: tuple[Any, ...], edit: Any) -> Any:
    out = copy.deepcopy(body)
    target = out
    for step in at:
        target = target[step]
    edit(target)
    return out


@dataclass
class Case:
    label: str
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)


ABSURD_IDS = [
    ("10000 chars", "x" * 10_000),
    ("NUL", "%00"),
    ("NUL inside", "abc%00def"),
    ("unicode", quote("ünïcødé-☃-🙂")),
    ("2**70", str(HUGE)),
    ("negative", "-1"),
    ("dot-dot", "%2E%2E"),
    ("encoded slash", "a%2Fb"),
    ("spaces", "%20%20"),
    ("SQL", quote("' OR '1'='1")),
    ("control characters", "%01%02%1F%7F"),
    ("invalid UTF-8", "%FF%FE"),
]
ABSURD_QUERY = [
    ("10000 chars", "x" * 10_000),
    ("NUL", "\x00"),
    ("NUL inside", "a\x00b"),
    ("empty", ""),
    ("unicode", "ünïcødé ☃"),
    ("2**70", str(HUGE)),
]
RAW_BODIES = [
    ("not JSON", b"{not json", "application/json"),
    ("truncated JSON", b'{"name": ', "application/json"),
    ("invalid UTF-8", b"\xff\xfe\x00{", "application/json"),
    ("NaN literal", b'{"a": NaN}', "application/json"),
    ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("plain text", b"hello", "text/plain"),
    ("form", b"a=1&b=2", "application/x-www-form-urlencoded"),
]
TOP_LEVEL = [("list", []), ("string", "members"), ("number", 42), ("huge number", HUGE), ("null", None),
             ("boolean", True)]


def cases_for(method: str, path: str, known: Known, headers: dict[str, str]) -> tuple[Case, list[Case]]:
    """The plausible request, and the malformed ones made from it."""
    op = OPENAPI["paths"][path][method.lower()]
    params = op.get("parameters", [])
    path_values = {p["name"]: known.get(p["name"]) or "unknown-id" for p in params if p["in"] == "path"}
    query = {p["name"]: example(p["schema"], p["name"], known) for p in params
             if p["in"] == "query" and p.get("required")}

    def url(values: dict[str, str]) -> str:
        return path.format(**values)

    body_schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
    body = example(body_schema, "", known) if body_schema else None

    def send(label: str, *, path_values_: dict[str, str] | None = None, params_: dict[str, Any] | None = None,
             **kwargs: Any) -> Case:
        if body_schema is not None and "json" not in kwargs and "content" not in kwargs:
            kwargs["json"] = body
        if "json" in kwargs:  # encoded here: httpx refuses NaN and Infinity, which are part of the test
            kwargs["content"] = json.dumps(kwargs.pop("json"), allow_nan=True).encode()
            kwargs["headers"] = {**kwargs.get("headers", headers), "content-type": "application/json"}
        return Case(label, method, url(path_values_ or path_values),
                    {"params": params_ if params_ is not None else query, "headers": headers, **kwargs})

    plausible = send("plausible request")
    cases: list[Case] = []
    for name in path_values:
        for label, value in ABSURD_IDS:
            cases.append(send(f"path {name}: {label}", path_values_={**path_values, name: value}))
    for p in (p for p in params if p["in"] == "query"):
        for label, value in ABSURD_QUERY + [(f"wrong {lbl}", v) for lbl, v in wrong_values(p["schema"])
                                            if isinstance(v, (str, int, float)) and not isinstance(v, bool)]:
            cases.append(send(f"query {p['name']}: {label}", params_={**query, p["name"]: value}))
    if body_schema is not None:
        for label, raw, content_type in RAW_BODIES:
            cases.append(send(f"body: {label}", content=raw, headers={**headers, "content-type": content_type}))
        cases.append(send("body: none", content=b""))
        for label, value in TOP_LEVEL:
            cases.append(send(f"body is a {label}", json=value))
        for at, schema in leaves(body_schema, body):
            where = ".".join(map(str, at))
            for label, value in wrong_values(schema):
                cases.append(send(f"body {where}: {label}", json=replaced(body, at, value)))
        for at, schema in objects(body_schema, body):
            where = ".".join(map(str, at)) or "body"
            for req in schema.get("required", []):
                cases.append(send(f"{where}: {req} missing", json=edited(body, at, lambda o, k=req: o.pop(k))))
            cases.append(send(f"{where}: unknown field",
                              json=edited(body, at, lambda o: o.update({"unexpected_field": 1}))))
    if op.get("security"):
        for label, value in [("no credential", None), ("wrong token", "Bearer wrong-token-000000000000"),
                             ("basic auth", "Basic dXNlcjpwYXNz"), ("empty bearer", "Bearer "),
                             ("10000-char token", "Bearer " + "x" * 10_000)]:
            bad = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if value is not None:
                bad["Authorization"] = value
            cases.append(send(f"auth: {label}", headers=bad))
    return plausible, cases


# -- the scene and the test ----------------------------------------------------------------


@dataclass
class Scene:
    known: Known
    agent_headers: dict[str, str]

    def headers_for(self, path: str) -> dict[str, str]:
        # Agent routes take the site's credential; every other route the operator's token.
        return self.agent_headers if path.startswith(f"{API}/agent/") else bearer(OPERATOR_TOKEN)


@pytest.fixture
def guarded_app(app: FastAPI) -> FastAPI:
    """The same app, with an operator token set so that credentials are checked everywhere."""
    app.state.settings = app.state.settings.model_copy(update={"api_token": OPERATOR_TOKEN,
                                                               "operator_siret": "21930029000018"})
    return app


@pytest.fixture
def scene(client: TestClient, region: Region, guarded_app: FastAPI) -> Scene:
    """The region (see conftest.region), then an operator token, one workload of Bobigny on drancy-h1,
    and an empty placement group of Bobigny (new workloads of the requests join it; it can be deleted)."""
    operator = bearer(OPERATOR_TOKEN)
    workload = ok(client.post(f"{API}/workloads", headers=operator, json={
        "member_id": region.members["Bobigny"], "offering_id": "vm-small", "name": "compta"}), 202)
    group = ok(client.post(f"{API}/placement-groups", headers=operator, json={
        "member_id": region.members["Bobigny"], "name": "erp", "policy": "different_host"}), 201)
    # A billed September: a price book, and a day the workload held its room then (before the loop's first
    # usage roll-up, which starts from the earliest allocation).
    ok(client.post(f"{API}/price-books", headers=operator, json={
        "name": "at cost", "valid_from": "2026-01-01", "vcpu_hour": "0.5", "ram_gib_hour": "0.1"}), 201)
    with guarded_app.state.uow_factory() as uow:
        september = datetime(2026, 9, 1, tzinfo=UTC)
        uow.allocations.add(Allocation("past-allocation", workload["id"], region.host("drancy-h1"),
                                       Resources(2, 4096, 20), september, september + timedelta(days=1),
                                       ServiceClass.HARVEST))
        uow.commit()
    guarded_app.state.placer.run_once()
    region.agents["drancy-mairie"].report(client, workload["id"], "running")  # so that it may be rebooted
    ok(client.post(f"{API}/billing/runs", headers=operator, json={"period": "2026-09"}), 201)
    # A user who can log in, and one of its tokens.
    ok(client.post(f"{API}/users", headers=operator, json={"login": "auditor-probe", "password": PASSWORD,
                                                           "roles": ["auditor"]}), 201)
    token_id = ok(client.post(f"{API}/auth/tokens", json={"login": "auditor-probe", "password": PASSWORD}), 201)["id"]
    token = ok(client.post(f"{API}/sites/{region.sites['avicenne-dc']}/join-tokens", headers=operator), 201)
    # A network no workload uses (to delete), and a security group with one rule (to delete, or its rule).
    network = ok(client.post(f"{API}/networks", headers=operator, json={
        "member_id": region.members["Bobigny"], "name": "lab", "subnets": [{"cidr": "10.30.0.0/24"}]}), 201)
    spare = ok(client.post(f"{API}/security-groups", headers=operator, json={
        "member_id": region.members["Bobigny"], "name": "spare"}), 201)
    known = Known({
        "network_id": network["id"],
        "port_id": workload["nics"][0]["port_id"],
        "security_group_id": spare["id"],
        "rule_id": spare["rules"][0]["id"],
        "member_id": region.members["Bobigny"],
        "site_id": region.sites["drancy-mairie"],
        "host_id": region.host("drancy-h1"),
        "offering_id": region.offerings["vm-small"],
        "workload_id": workload["id"],
        "group_id": group["id"],
        "group": group["id"],
        "join_token": token["token"],
        "reserved_gpus": 0,  # the scene's hosts have no GPU: a reserve of one would rightly be refused
        "period": "2026-09",
        "invoice_id": "INV-2026-09-0001",
        "from": "2026-09-01T00:00:00Z",
        "to": "2026-10-01T00:00:00Z",
        "login": "auditor-probe",
        "password": PASSWORD,
        "token_id": token_id,
    }, per_path={f"{API}/users": {"login": "new-user-probe"},
                 # Attesting needs a proposed certification: the hospital's HDS. ("kind" is an agreement's
                 # kind elsewhere, so it is set on these routes only.)
                 f"{API}/sites/{{site_id}}/certifications/{{kind}}/attest": {"site_id": region.sites["avicenne-dc"],
                                                                              "kind": "hds"},
                 f"{API}/sites/{{site_id}}/certifications": {"kind": "hds"}})
    return Scene(known, region.agents["drancy-mairie"].headers)


def check(client: TestClient, case: Case) -> str | None:
    """None if the answer is right, else what is wrong with it."""
    response = client.request(case.method, case.url, **case.kwargs)
    status = response.status_code
    if not 400 <= status < 500:
        return f"{case.label}: {status} {response.text[:300]}"
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"{case.label}: {status} without a civicloud error body: {response.text[:300]}"
    if not (isinstance(code, str) and code.startswith("civicloud.")):
        return f"{case.label}: {status} with error code {code!r}"
    return None


def assert_all_4xx(client: TestClient, what: str, cases: list[Case]) -> None:
    problems = [p for p in (check(client, c) for c in cases) if p]
    assert not problems, f"{len(problems)} of {len(cases)} malformed requests to {what}:\n" + "\n".join(problems)


def takes_input(method: str, path: str) -> bool:
    op = OPENAPI["paths"][path][method.lower()]
    return bool(op.get("parameters") or op.get("requestBody") or op.get("security"))


# Operations with nothing to break but the method (the health check) are left to test_wrong_methods_get_a_405.
INPUT_OPERATIONS = [(m, p) for m, p in OPERATIONS if takes_input(m, p)]


@pytest.mark.parametrize(("method", "path"), INPUT_OPERATIONS, ids=[f"{m} {p}" for m, p in INPUT_OPERATIONS])
def test_malformed_input_gets_a_4xx(client: TestClient, scene: Scene, method: str, path: str) -> None:
    plausible, cases = cases_for(method, path, scene.known.for_path(path), scene.headers_for(path))
    # The request the cases are made from is a valid one, so each case breaks exactly one thing.
    response = client.request(plausible.method, plausible.url, **plausible.kwargs)
    assert response.status_code < 300, response.text
    assert cases
    assert_all_4xx(client, f"{method} {path}", cases)
    # The app still answers after all that.
    assert client.get(f"{API}/healthz").status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_wrong_methods_get_a_405(path: str) -> None:
    """Routing answers before any database is touched, so this runs once, on an app with no database."""
    app = create_app(Settings(database_url="sqlite://"), engine=make_engine("sqlite://"), background=False)
    declared = {m.upper() for m in OPENAPI["paths"][path]}
    url = re.sub(r"{\w+}", "some-id", path)
    with TestClient(app, raise_server_exceptions=False) as client:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method in declared:
                continue
            response = client.request(method, url, json={})
            assert response.status_code == 405, (method, response.text)
            assert response.json()["error"]["code"] == "civicloud.route.method_not_allowed"


def at_limits(schema: dict[str, Any], value: Any, pick: str) -> Any:
    """``value`` with every bounded integer of ``schema`` pushed to its ``pick`` (maximum or minimum)."""
    schema = non_null(schema)
    if isinstance(value, dict):
        return {k: at_limits(entries(schema).get(k, {}), v, pick) for k, v in value.items()}
    if isinstance(value, list):
        return [at_limits(schema.get("items", {}), v, pick) for v in value]
    if schema.get("type") == "integer" and pick in schema:
        return schema[pick]
    return value


EDGE_OPERATIONS = [(m, p) for m, p in OPERATIONS
                   if "{" in p or "requestBody" in OPENAPI["paths"][p][m.lower()]]


@pytest.mark.parametrize(("method", "path"), EDGE_OPERATIONS, ids=[f"{m} {p}" for m, p in EDGE_OPERATIONS])
def test_edges_are_answered_alike_on_both_databases(client: TestClient, scene: Scene, method: str,
                                                    path: str) -> None:
    """Where SQLite and PostgreSQL differ (NUL bytes, long text, 32-bit integers), the API answers the same.

    A path value that can name nothing is the same 422 on both (not a 404 on one and a 'value out of
    range' on the other), and the limits the schema documents are values both databases store.
    """
    names = re.findall(r"{(\w+)}", path)
    values = {n: scene.known.get(n) or "unknown-id" for n in names}
    headers = {**scene.headers_for(path), "content-type": "application/json"}
    for name in names:
        for value in ("%00", "ab%00cd", "x" * 10_000, "ab%0Acd"):
            response = client.request(method, path.format(**{**values, name: value}), headers=headers,
                                      content=b"{}")
            assert response.status_code == 422, (name, value[:20], response.text)
            assert response.json()["error"]["code"] == "civicloud.request.invalid"
            assert response.json()["error"]["field"] == f"path.{name}"
    op = OPENAPI["paths"][path][method.lower()]
    if "requestBody" not in op:
        return
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    for pick in ("maximum", "minimum"):
        body = at_limits(schema, example(schema, "", scene.known.for_path(path)), pick)
        response = client.request(method, path.format(**values), json=body, headers=scene.headers_for(path))
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()["error"]["code"] != "civicloud.store.value_out_of_range", (body, response.text)


def test_every_route_is_covered() -> None:
    """The walker found the routes: a refactor that broke the generation would not pass silently."""
    assert len(OPERATIONS) >= 25
    # What takes no input at all can only be a read such as the health check; anything that writes
    # takes a body, a parameter or a credential, and so gets its malformed cases.
    assert {m for m, p in OPERATIONS if not takes_input(m, p)} <= {"GET"}
    assert ("POST", f"{API}/workloads") in OPERATIONS and ("POST", f"{API}/agent/report") in OPERATIONS
    # Every path parameter is one the scene knows a real value of: otherwise the plausible request of a
    # new route would be a 404 and the test would say so only by failing.
    names = {n for p in PATHS for n in re.findall(r"{(\w+)}", p)}
    assert names == {"member_id", "site_id", "host_id", "workload_id", "offering_id", "group_id", "period",
                     "invoice_id", "token_id", "kind", "network_id", "port_id", "security_group_id", "rule_id"}


def test_nested_bodies_get_broken_too() -> None:
    """Mappings (an agreement's quotas) and optional objects (a workload's residency) are walked into."""
    known = Known({})
    for path, field_ in ((f"{API}/members/{{member_id}}/agreements", ("quotas", "guaranteed", "vcpus")),
                         (f"{API}/workloads", ("residency", "departments", 0)),
                         (f"{API}/sites/{{site_id}}/offer", ("windows", 0, "share_percent"))):
        op = OPENAPI["paths"][path]["post" if "put" not in OPENAPI["paths"][path] else "put"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert field_ in {at for at, _ in leaves(schema, example(schema, "", known))}, path
