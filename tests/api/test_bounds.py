"""Bounds of what the API takes: dates, instants and periods in the years 2000–2999, decimals as canonical text.

One agreement ending on 9999-12-31 used to take billing down for the whole
federation (the day after it overflows the calendar), and a cost model with a
divisor of 1e-30 answered 500. Each test here drives the API with such extremes:
refused with a 422 at the door, and — for rows stored before the door was shut —
harmless to showback and billing runs.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicloud.clock import random_ids as new_id
from civicloud.domain import Agreement, AgreementKind
from civicloud.domain.billing import PriceBook, Prices
from civicloud.domain.pricing import COST_INPUT_BOUNDS

from billing_scene import Ledger, demo_month
from civicloud_support import API, error_code, ok

FAR_DATES = ["9999-12-31", "0001-01-01", "1999-12-31", "3000-01-01", "99999-01-01", "2026-02-30", "2026-1-01",
             "20260101", "2026-01-01T00:00:00Z"]
BAD_PERIODS = ["0001-01", "9999-12", "2026-13", "2026-00", "1999-12", "3000-01", "2026-1", "26-01", "2026-01-01",
               "\u0662\u0660\u0662\u0666-11"]  # the last in Arabic-Indic digits, which int() would read
FAR_INSTANTS = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "1999-12-31T23:00:00Z",
                "3000-01-01T00:00:00Z"]


@pytest.fixture
def ledger(uow_factory) -> Ledger:  # type: ignore[no-untyped-def]
    """The demo month of tests/billing/test_billing_month.py (September 2026), not billed yet."""
    return demo_month(Ledger(uow_factory))


def post_raw(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    # Encoded here: httpx refuses NaN and Infinity, which are what some tests send.
    return client.post(path, content=json.dumps(body, allow_nan=True).encode(),
                       headers={"content-type": "application/json"})


# -- dates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", FAR_DATES)
@pytest.mark.parametrize("field", ["valid_from", "valid_to"])
def test_an_agreement_with_a_far_date_is_refused(client: TestClient, ledger: Ledger, field: str, day: str) -> None:
    body = {"kind": "ppp", "valid_from": "2026-01-01", field: day}
    response = client.post(f"{API}/members/{ledger.members['Bobigny'].id}/agreements", json=body)
    assert error_code(response, 422) == "civicloud.request.invalid"
    assert response.json()["error"]["field"] == field
    if day in ("9999-12-31", "0001-01-01"):
        message = response.json()["error"]["message"]
        assert "2000-01-01" in message and "2999-12-31" in message and "null" in message


def test_an_open_ended_agreement_is_null_and_the_edges_of_the_range_are_taken(client: TestClient,
                                                                               ledger: Ledger) -> None:
    member = ledger.members["Bobigny"].id
    open_ended = ok(client.post(f"{API}/members/{member}/agreements",
                                json={"kind": "ppp", "valid_from": "2026-01-01", "valid_to": None}), 201)
    assert open_ended["valid_to"] is None
    edges = ok(client.post(f"{API}/members/{member}/agreements",
                           json={"kind": "ppp", "valid_from": "2000-01-01", "valid_to": "2999-12-31"}), 201)
    assert (edges["valid_from"], edges["valid_to"]) == ("2000-01-01", "2999-12-31")
    # ... and billing still works with them in force.
    assert ok(client.get(f"{API}/members/Bobigny/showback", params={"period": "2026-09"}), 200)["billed"] is False


@pytest.mark.parametrize("day", FAR_DATES)
def test_a_price_book_from_a_far_date_is_refused(client: TestClient, day: str) -> None:
    response = client.post(f"{API}/price-books", json={"name": "far", "valid_from": day, "vcpu_hour": "0.01"})
    assert error_code(response, 422) == "civicloud.request.invalid"
    assert response.json()["error"]["field"] == "valid_from"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "3000-01-01"])
def test_a_certification_expiring_on_a_far_date_is_refused(client: TestClient, ledger: Ledger, day: str) -> None:
    response = client.post(f"{API}/sites", json={
        "member_id": ledger.members["Hôpital Avicenne"].id, "name": "far-dc", "insee_code": "93008",
        "certifications": [{"kind": "hds", "expires_on": day, "activities": [1]}]})
    assert error_code(response, 422) == "civicloud.request.invalid"
    assert response.json()["error"]["field"] == "certifications.0.expires_on"


def test_stored_extreme_dates_leave_showback_and_billing_answering(client: TestClient, ledger: Ledger) -> None:
    """Rows written before the API bounded dates: an agreement to 9999-12-31, one from 0001-01-01 (ended
    long ago), one spanning the whole calendar, and a price book from 0001-01-01 for a kind nobody has."""
    with ledger.uow_factory() as uow:
        bobigny, drancy = ledger.members["Bobigny"].id, ledger.members["Drancy"].id
        uow.agreements.add(Agreement(new_id(), bobigny, AgreementKind.MUTUALISATION_CONVENTION, date(2026, 1, 1),
                                     date(9999, 12, 31)))
        uow.agreements.add(Agreement(new_id(), drancy, AgreementKind.PPP, date(1, 1, 1), date(1, 12, 31)))
        uow.agreements.add(Agreement(new_id(), ledger.members["Hôpital Avicenne"].id,
                                     AgreementKind.MUTUALISATION_CONVENTION, date.min, date.max))
        uow.price_books.add(PriceBook(new_id(), "ancient", date(1, 1, 1), Prices(vcpu_hour=Decimal(9)),
                                      agreement_kind=AgreementKind.SEM_SHAREHOLDER, created_at=uow.clock()))
        uow.commit()
    for member in ("Bobigny", "Drancy", "Hôpital Avicenne", "Start-up Incubateur Bondy"):
        ok(client.get(f"{API}/members/{member}/showback", params={"period": "2026-09"}), 200)
    before = ok(client.get(f"{API}/members/Bobigny/showback", params={"period": "2026-09"}), 200)
    run = ok(client.post(f"{API}/billing/runs", json={"period": "2026-09"}), 201)
    # The far ends cut nothing: the month bills as it does without them (tests/billing/test_billing_month.py).
    assert (run["charged_eur"], run["fees_eur"], run["credited_eur"]) == ("12.07", "0.24", "11.83")
    assert before["cost_eur"] == ok(client.get(f"{API}/members/Bobigny/showback",
                                               params={"period": "2026-09"}), 200)["cost_eur"] == "11.20"
    ok(client.get(f"{API}/billing/runs/2026-09/settlement"), 200)
    ok(client.get(f"{API}/members/Bobigny/usage", params={"from": "2026-09-01T00:00:00Z",
                                                           "to": "2026-10-01T00:00:00Z"}), 200)
    # A price book added afterwards is still checked against the billed period.
    later = client.post(f"{API}/price-books", json={"name": "late", "valid_from": "2026-09-30"})
    assert error_code(later, 409) == "civicloud.price_book.billed_period"


# -- periods and instants --------------------------------------------------------------------------------


@pytest.mark.parametrize("period", BAD_PERIODS)
def test_a_bad_period_is_a_422_everywhere(client: TestClient, ledger: Ledger, period: str) -> None:
    response = client.post(f"{API}/billing/runs", json={"period": period})
    assert error_code(response, 422) == "civicloud.request.invalid"
    assert response.json()["error"]["field"] == "period"
    showback = client.get(f"{API}/members/Bobigny/showback", params={"period": period})
    assert error_code(showback, 422) == "civicloud.request.invalid"
    assert showback.json()["error"]["field"] == "query.period"
    for path in (f"/billing/runs/{period}", f"/billing/runs/{period}/settlement", f"/billing/runs/{period}.csv"):
        answer = client.get(f"{API}{path}")
        assert error_code(answer, 422) == "civicloud.request.invalid", path


def test_the_edges_of_the_period_range_are_answered(client: TestClient, ledger: Ledger) -> None:
    assert error_code(client.post(f"{API}/billing/runs", json={"period": "2999-12"}), 409) == \
        "civicloud.billing.period_open"
    assert error_code(client.get(f"{API}/billing/runs/2000-01"), 404) == "civicloud.billing_run.not_found"
    assert error_code(client.get(f"{API}/members/Bobigny/showback", params={"period": "2999-12"}), 422) == \
        "civicloud.billing.invalid_period"  # not started yet
    assert ok(client.get(f"{API}/members/Bobigny/showback", params={"period": "2000-01"}), 200)["cost_eur"] == "0.00"


@pytest.mark.parametrize("instant", FAR_INSTANTS)
def test_far_instants_are_refused_in_ranges(client: TestClient, ledger: Ledger, instant: str) -> None:
    usage = client.get(f"{API}/members/Bobigny/usage", params={"from": instant, "to": "2026-10-01T00:00:00Z"})
    assert error_code(usage, 422) == "civicloud.request.invalid"
    assert usage.json()["error"]["field"] == "query.from"
    for name in ("since", "until"):
        audit = client.get(f"{API}/audit", params={name: instant})
        assert error_code(audit, 422) == "civicloud.request.invalid", name


# -- decimals --------------------------------------------------------------------------------------------

# Not canonical decimal text, or not a finite number: refused wherever a decimal is taken.
NOT_DECIMALS: list[tuple[str, Any]] = [
    ("1e-30 number", 1e-30), ("1e-30 text", "1e-30"), ("1E+3 text", "1E+3"), ("1e3 text", "1e3"),
    ("NaN literal", float("nan")), ("NaN text", "NaN"), ("Infinity literal", float("inf")),
    ("-Infinity literal", float("-inf")), ("Infinity text", "Infinity"), ("underscore", "1_000"),
    ("leading space", " 1"), ("trailing space", "1 "), ("negative zero", "-0"), ("negative zero fraction", "-0.00"),
    ("negative zero number", -0.0), ("plus sign", "+1"), ("leading zero", "01"), ("bare dot", ".5"),
    ("trailing dot", "1."), ("comma", "1,5"), ("hex", "0x10"), ("Arabic-Indic digit", "\u0661"),
    ("boolean", True), ("empty", ""), ("object", {"value": 1}), ("list", [1]), ("huge", 10**400),
    ("1e+16 number", 1e16),
]
PRICE_FIELDS = ["vcpu_hour", "ram_gib_hour", "disk_gib_month", "gpu_hour", "desktop_month", "ehealth_month",
                "operator_fee_percent"]
COST_MODEL = {"hardware_eur": "20000", "amortisation_years": "5", "power_watts": "500", "eur_per_kwh": "0.20",
              "staff_eur_per_year": "3000", "other_eur_per_year": "1124", "vcpus": "128", "memory_gib": "512",
              "disk_gib": "10000", "utilisation": "0.75", "margin_percent": "20"}


def _refused(response: Any, field: str) -> None:
    assert error_code(response, 422) == "civicloud.request.invalid"
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(("label", "value"), NOT_DECIMALS, ids=[label for label, _ in NOT_DECIMALS])
def test_not_a_decimal_is_refused_everywhere(client: TestClient, label: str, value: Any) -> None:
    for name in PRICE_FIELDS:
        _refused(post_raw(client, f"{API}/price-books", {"name": "x", "valid_from": "2027-01-01", name: value}), name)
    _refused(post_raw(client, f"{API}/invoices/INV-2026-09-0001/credit-notes", {"amount_eur": value, "reason": "x"}),
             "amount_eur")
    for name in COST_MODEL:
        _refused(post_raw(client, f"{API}/pricing/cost-model", {**COST_MODEL, name: value}), name)


@pytest.mark.parametrize(("name", "value"), [
    ("vcpus", "0.99"), ("memory_gib", "0.5"), ("disk_gib", "0"), ("utilisation", "0.009"),
    ("utilisation", "1.0001"), ("amortisation_years", "0.09"), ("amortisation_years", "51"),
    ("hardware_eur", "-1"), ("hardware_eur", "1000000000.01"), ("margin_percent", "1000.0001"),
    ("eur_per_kwh", "0.0000001"),  # seven places
])
def test_cost_model_inputs_out_of_bounds_are_refused(client: TestClient, name: str, value: str) -> None:
    _refused(client.post(f"{API}/pricing/cost-model", json={**COST_MODEL, name: value}), name)


def test_canonical_decimals_are_taken_as_written(client: TestClient, ledger: Ledger) -> None:
    book = ok(client.post(f"{API}/price-books", json={
        "name": "plain", "valid_from": "2027-01-01", "vcpu_hour": "0.005", "ram_gib_hour": 0.0011,
        "disk_gib_month": 2, "gpu_hour": "1000000", "desktop_month": "0.000001", "ehealth_month": "0.10",
        "operator_fee_percent": "2.5"}), 201)
    assert [book[f] for f in PRICE_FIELDS] == ["0.005", "0.0011", "2", "1000000", "0.000001", "0.10", "2.5"]
    body = ok(client.post(f"{API}/pricing/cost-model", json=COST_MODEL), 200)
    assert (body["yearly_eur"], body["vcpu_hour"]) == ("9000.000000", "0.006421")


def test_the_openapi_document_states_the_decimal_rule(client: TestClient) -> None:
    schemas = client.get(f"{API}/openapi.json").json()["components"]["schemas"]
    utilisation = schemas["CostModelIn"]["properties"]["utilisation"]
    assert utilisation["anyOf"][0] == {"type": "number", "minimum": 0.01, "maximum": 1}
    assert utilisation["anyOf"][1]["pattern"] == r"^(0|[1-9][0-9]*)(\.[0-9]{1,4})?$"
    assert "no exponent" in utilisation["description"] and "JSON number" in utilisation["description"]


def _text(low: Decimal, high: Decimal, places: int) -> st.SearchStrategy[str]:
    return st.decimals(min_value=low, max_value=high, places=places, allow_nan=False,
                       allow_infinity=False).map(lambda d: format(d, "f")).filter(lambda t: t != "-0" and
                                                                                   not t.startswith("-0."))


PLACES = {"hardware_eur": 2, "amortisation_years": 2, "power_watts": 3, "eur_per_kwh": 6, "staff_eur_per_year": 2,
          "other_eur_per_year": 2, "vcpus": 2, "memory_gib": 3, "disk_gib": 3, "utilisation": 4,
          "margin_percent": 4}
WITHIN_BOUNDS = st.fixed_dictionaries({name: _text(*COST_INPUT_BOUNDS[name], PLACES[name]) for name in PLACES})
CORNERS = [{name: format(COST_INPUT_BOUNDS[name][i if name in ("vcpus", "memory_gib", "disk_gib", "utilisation",
                                                                "amortisation_years") else 1 - i], "f")
            for name in PLACES} for i in (0, 1)]


@pytest.mark.parametrize("corner", CORNERS, ids=["dearest", "cheapest"])
def test_cost_model_at_the_corners_of_its_bounds(client: TestClient, corner: dict[str, str]) -> None:
    body = ok(client.post(f"{API}/pricing/cost-model", json=corner), 200)
    assert all(Decimal(v).is_finite() for v in body.values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(WITHIN_BOUNDS)
def test_cost_model_never_fails_within_its_bounds(client: TestClient, body: dict[str, str]) -> None:
    response = client.post(f"{API}/pricing/cost-model", json=body)
    assert response.status_code == 200, (body, response.text)
    assert all(Decimal(v).is_finite() and Decimal(v) >= 0 for v in response.json().values())


ANYTHING = st.one_of(st.floats(), st.floats(min_value=1e-300, max_value=1e-6), st.integers(),
                     st.decimals().map(str),
                     st.decimals(min_value=Decimal("1e-40"), max_value=Decimal("1e-6")).map(str),
                     st.text(max_size=50), st.booleans(), st.none())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(COST_MODEL)), ANYTHING)
def test_cost_model_never_answers_500(client: TestClient, name: str, value: Any) -> None:
    response = post_raw(client, f"{API}/pricing/cost-model", {**COST_MODEL, name: value})
    assert response.status_code in (200, 422), (name, value, response.text)
    if response.status_code == 422:
        assert response.json()["error"]["field"] == name
