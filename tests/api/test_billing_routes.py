"""The billing API: price books, runs (201 then 200), invoices and statements, CSV, settlement, usage."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from billing_scene import Ledger, demo_month
from civicloud_support import API, error_code, ok


@pytest.fixture
def billed(client: TestClient, uow_factory) -> Ledger:  # type: ignore[no-untyped-def]
    """The demo month of tests/billing/test_billing_month.py, billed through the API."""
    ledger = demo_month(Ledger(uow_factory))
    first = client.post(f"{API}/billing/runs", json={"period": "2026-09"})
    assert first.status_code == 201, first.text
    return ledger


def test_a_run_then_the_same_run_again(client: TestClient, billed: Ledger) -> None:
    again = client.post(f"{API}/billing/runs", json={"period": "2026-09"})
    assert again.status_code == 200
    body = again.json()
    assert (body["charged_eur"], body["fees_eur"], body["credited_eur"]) == ("12.07", "0.24", "11.83")
    assert body["own_use_hours"] == "720"
    assert [r["period"] for r in ok(client.get(f"{API}/billing/runs"), 200)] == ["2026-09"]
    assert ok(client.get(f"{API}/billing/runs/2026-09"), 200)["id"] == body["id"]


def test_invoices_statements_and_their_lines(client: TestClient, billed: Ledger) -> None:
    bobigny = billed.members["Bobigny"].id
    invoices = ok(client.get(f"{API}/members/{bobigny}/invoices"), 200)
    assert [(d["number"], d["total_eur"], d["lines"]) for d in invoices] == [("INV-2026-09-0001", "11.20", [])]
    one = ok(client.get(f"{API}/members/Bobigny/invoices/INV-2026-09-0001"), 200)  # member and invoice by name
    assert [(x["amount_eur"], x["operator_fee_eur"], x["lender_credit_eur"]) for x in one["lines"]] == \
        [("5.24", "0.10", "5.14"), ("5.96", "0.12", "5.84")]
    assert one["lines"][0]["vcpu_hours"] == "720.000000"
    statements = ok(client.get(f"{API}/members/Drancy/statements"), 200)
    assert [(d["number"], d["total_eur"], d["fees_eur"]) for d in statements] == [("STM-2026-09-0001", "11.83", "0.24")]
    # Another member's document is not found under this member: ids do not leak across members.
    assert error_code(client.get(f"{API}/members/Drancy/invoices/INV-2026-09-0001"), 404) == \
        "civicloud.invoice.not_found"


def test_csv_export(client: TestClient, billed: Ledger) -> None:
    response = client.get(f"{API}/members/Bobigny/invoices/INV-2026-09-0001.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="INV-2026-09-0001.csv"' in response.headers["content-disposition"]
    rows = response.text.strip().splitlines()
    assert len(rows) == 3 and "Bobigny" in rows[1] and "Drancy" in rows[1] and rows[1].endswith("5.24,0.10,5.14")


def test_period_csv(client: TestClient, billed: Ledger) -> None:
    response = client.get(f"{API}/billing/runs/2026-09.csv")
    assert response.status_code == 200 and 'filename="civicloud-2026-09.csv"' in response.headers["content-disposition"]
    rows = [r.split(",") for r in response.text.strip().splitlines()]
    assert rows[0][:3] == ["period", "borrower", "borrower_siret"] and len(rows) == 4  # three lines
    assert sorted(r[-3] for r in rows[1:]) == ["0.87", "5.24", "5.96"]
    assert error_code(client.get(f"{API}/billing/runs/2026-08.csv"), 404) == "civicloud.billing_run.not_found"


def test_settlement(client: TestClient, billed: Ledger) -> None:
    m = {name: member.id for name, member in billed.members.items()}
    body = ok(client.get(f"{API}/billing/runs/2026-09/settlement"), 200)
    assert {(t["payer_id"], t["payee_id"], t["amount_eur"]) for t in body["transfers"]} == {
        (m["Bobigny"], m["Drancy"], "10.98"), (m["Start-up Incubateur Bondy"], m["Drancy"], "0.85")}
    assert {(t["payer_id"], t["amount_eur"]) for t in body["operator_fees"]} == {
        (m["Bobigny"], "0.22"), (m["Start-up Incubateur Bondy"], "0.02")}
    balances = {b["member_id"]: (b["pays_eur"], b["receives_eur"]) for b in body["balances"]}
    assert balances[m["Drancy"]] == ("0", "11.83")
    assert error_code(client.get(f"{API}/billing/runs/2026-08/settlement"), 404) == "civicloud.billing_run.not_found"


def test_credit_note(client: TestClient, billed: Ledger) -> None:
    note = ok(client.post(f"{API}/invoices/INV-2026-09-0001/credit-notes",
                          json={"amount_eur": "2.50", "reason": "hv1 down a day"}), 201)
    assert (note["number"], note["kind"], note["total_eur"]) == ("AVO-2026-09-0001", "credit_note", "-2.50")
    listed = ok(client.get(f"{API}/members/Bobigny/invoices"), 200)
    assert [d["number"] for d in listed] == ["INV-2026-09-0001", "AVO-2026-09-0001"]
    too_much = client.post(f"{API}/invoices/INV-2026-09-0001/credit-notes", json={"amount_eur": "9", "reason": "x"})
    assert error_code(too_much, 422) == "civicloud.billing.invalid_credit"


def test_member_usage(client: TestClient, billed: Ledger) -> None:
    body = ok(client.get(f"{API}/members/Drancy/usage", params={"from": "2026-08-31T22:00:00Z",
                                                                "to": "2026-09-30T22:00:00Z"}), 200)
    assert body["borrowed"] == []
    lent = {(x["workload_id"], x["hours"], x["vcpu_hours"]) for x in body["lent"]}
    assert lent == {(billed.workload_ids["compta"], "720.000000", "1440.000000"),
                    (billed.workload_ids["ml"], "48.000000", "96.000000")}
    hospital = ok(client.get(f"{API}/members/Hôpital Avicenne/usage", params={
        "from": "2026-08-31T22:00:00Z", "to": "2026-09-30T22:00:00Z"}), 200)
    assert [(x["own_use"], x["hours"]) for x in hospital["borrowed"]] == [(True, "720.000000")]
    backwards = client.get(f"{API}/members/Drancy/usage", params={"from": "2026-09-30T00:00:00Z",
                                                                  "to": "2026-09-01T00:00:00Z"})
    assert error_code(backwards, 422) == "civicloud.usage.invalid_range"


def test_price_books(client: TestClient, billed: Ledger) -> None:
    created = ok(client.post(f"{API}/price-books", json={
        "name": "public 2027", "valid_from": "2027-01-01", "agreement_kind": "mutualisation_convention",
        "vcpu_hour": "0.0061", "ram_gib_hour": 0.0011, "operator_fee_percent": "2.5"}), 201)
    assert (created["vcpu_hour"], created["ram_gib_hour"], created["operator_fee_percent"]) == (
        "0.0061", "0.0011", "2.5")
    assert len(ok(client.get(f"{API}/price-books"), 200)) == 4
    refused = client.post(f"{API}/price-books", json={"name": "x", "valid_from": str(date(2026, 9, 1))})
    assert error_code(refused, 409) == "civicloud.price_book.billed_period"
    too_fine = client.post(f"{API}/price-books", json={"name": "x", "valid_from": "2027-01-01",
                                                       "vcpu_hour": "0.0000001"})
    assert error_code(too_fine, 422) == "civicloud.request.invalid"


def test_cost_model(client: TestClient) -> None:
    body = ok(client.post(f"{API}/pricing/cost-model", json={
        "hardware_eur": 20000, "amortisation_years": 5, "power_watts": 500, "eur_per_kwh": "0.20",
        "staff_eur_per_year": 3000, "other_eur_per_year": 1124, "vcpus": 128, "memory_gib": 512,
        "disk_gib": 10000, "utilisation": "0.75", "margin_percent": 20}), 200)
    assert (body["yearly_eur"], body["vcpu_hour"]) == ("9000.000000", "0.006421")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"period": "2026-13"}, 422, "civicloud.request.invalid"),
    ({"period": "2999-01"}, 409, "civicloud.billing.period_open"),
])
def test_run_errors(client: TestClient, body: dict[str, str], status: int, code: str) -> None:
    assert error_code(client.post(f"{API}/billing/runs", json=body), status) == code


def test_facturx_invoice_reads_back_and_validates(client: TestClient, billed: Ledger, app) -> None:  # type: ignore[no-untyped-def]
    import facturx
    from lxml import etree

    unset = client.get(f"{API}/members/Bobigny/invoices/INV-2026-09-0001.pdf")
    assert error_code(unset, 409) == "civicloud.billing.operator_unset"
    app.state.settings = app.state.settings.model_copy(update={"operator_name": "SIPPEREC (opérateur)",
                                                               "operator_siret": "21930029000018"})
    response = client.get(f"{API}/members/Bobigny/invoices/INV-2026-09-0001.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    name, xml = facturx.get_xml_from_pdf(response.content, check_xsd=True)  # the library reads it back
    assert name == "factur-x.xml"
    facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")  # and it validates against its schema
    tree = etree.fromstring(xml)
    ns = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
          "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    assert tree.findtext("rsm:ExchangedDocument/ram:ID", namespaces=ns) == "INV-2026-09-0001"
    assert tree.findtext(".//ram:GrandTotalAmount", namespaces=ns) == "11.20"
    ids = tree.findall(".//ram:SpecifiedLegalOrganization/ram:ID", namespaces=ns)
    seller, buyer = ids[0], ids[1]
    assert (seller.text, seller.get("schemeID")) == ("21930029000018", "0009")  # the operator's SIRET
    assert buyer.text == billed.members["Bobigny"].siren  # no SIRET on file: the SIREN, scheme 0002
    assert len(tree.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=ns)) == 2

    note = ok(client.post(f"{API}/invoices/INV-2026-09-0001/credit-notes", json={"amount_eur": "1", "reason": "x"}),
              201)
    credit = client.get(f"{API}/members/Bobigny/invoices/{note['number']}.pdf")
    assert credit.status_code == 200
    _name, credit_xml = facturx.get_xml_from_pdf(credit.content, check_xsd=True)
    assert etree.fromstring(credit_xml).findtext(".//ram:TypeCode", namespaces=ns) == "381"
    statement = client.get(f"{API}/members/Drancy/invoices/STM-2026-09-0001.pdf")
    assert error_code(statement, 409) == "civicloud.billing.not_an_invoice"


def test_showback_and_host_power(client: TestClient, billed: Ledger) -> None:
    body = ok(client.get(f"{API}/members/Bobigny/showback", params={"period": "2026-09"}), 200)
    assert (body["cost_eur"], body["billed"], body["going_alone_eur"]) == ("11.20", True, "10.47")
    assert body["borrowed"][0]["service_class"] == "harvest" and body["borrowed"][0]["hours"] == "720.000000"
    assert body["energy_kwh"] == "23.400"
    # A host whose owner measured it draws less: the energy follows.
    hv1 = billed.hosts["hv1"]
    host = ok(client.put(f"{API}/hosts/{hv1}/power", json={"idle_watts": 60, "max_watts": 175}), 200)
    assert (host["idle_watts"], host["max_watts"]) == (60, 175)
    showback = ok(client.get(f"{API}/members/Bobigny/showback", params={"period": "2026-09"}), 200)
    assert showback["energy_kwh"] == "11.700"
    bad = client.put(f"{API}/hosts/{hv1}/power", json={"idle_watts": 200, "max_watts": 100})
    assert error_code(bad, 422) == "civicloud.host.invalid_power"
    assert error_code(client.get(f"{API}/members/Bobigny/showback", params={"period": "2026-9"}), 422) == \
        "civicloud.request.invalid"
