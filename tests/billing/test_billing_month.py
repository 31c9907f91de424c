"""A month of the demo's region, billed, against figures computed by hand below.

September 2026, Paris time (summer: UTC+2): from 2026-08-31 22:00 UTC to 2026-09-30 22:00 UTC, 720 hours.

Price books (euros, excl. VAT):
- "public at cost", from 2026-01-01, mutualisation conventions: 0.005 €/vCPU·h, 0.001 €/GiB·h,
  0.02 €/GiB-disk·month, operator fee 2 %;
- "public at cost 16 Sep", from 2026-09-16, same with 0.006 €/vCPU·h (the lender's energy bill went up);
- "PPP at cost + 25 %", from 2026-01-01, PPP contracts: 0.00625, 0.00125, 0.025, fee 2 %.

Usage (vm.small: 2 vCPU, 4 GiB, 20 GiB disk):
- Bobigny's "compta" runs on Drancy's hv1 the whole month: 360 h before 16 Sep (Paris), 360 h after.
    before: 2×360×0.005 = 3.60; 4×360×0.001 = 1.44; 20×360/730×0.02 = 0.19726… → 5.23726… → 5.24 €,
            fee 2 % = 0.1048 → 0.10, credit 5.14;
    after:  2×360×0.006 = 4.32; 1.44; 0.19726… → 5.95726… → 5.96 €, fee 0.1192 → 0.12, credit 5.84.
- The start-up's "ml" runs on hv1 for 48 h (10–12 Sep):
    2×48×0.00625 = 0.60; 4×48×0.00125 = 0.24; 20×48/730×0.025 = 0.03287… → 0.87287… → 0.87 €,
    fee 0.0174 → 0.02, credit 0.85.
- Hôpital Avicenne's "dossier-patient" (e-health) runs on its own HDS site all month: own use, metered
  (720 h) and not billed.

So: Bobigny's invoice 11.20 € (fees 0.22), the start-up's 0.87 € (fees 0.02), Drancy's statement
11.83 € (fees 0.24); Bobigny pays Drancy 10.98 € and the operator 0.22 €, the start-up pays Drancy
0.85 € and the operator 0.02 €; 12.07 € charged = 11.83 € credited + 0.24 € fees.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from civicloud.domain import MemberCategory
from civicloud.domain.billing import settle
from civicloud.errors import Conflict, InvalidInput, NotFound
from civicloud.services import billing
from civicloud.wire import PriceBookCreate

from billing_scene import MONTH_END, MONTH_START, NOW, Ledger, demo_month
from civicloud_support import OPERATOR

E = Decimal


def test_the_demo_month_matches_the_figures_computed_by_hand(ledger: Ledger) -> None:
    demo_month(ledger)
    run, created = billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    assert created
    assert (run.charged_cents, run.fees_cents) == (1207, 24)
    assert run.own_use_seconds == 720 * 3600  # the hospital on its own site: metered, not billed

    m = ledger.members
    with ledger.uow_factory() as uow:
        docs = {(d.kind, d.member_id): d for d in uow.billing.documents(run_id=run.id)}
        lines = uow.billing.lines(run.id)
    assert set(docs) == {("invoice", m["Bobigny"].id), ("invoice", m["Start-up Incubateur Bondy"].id),
                         ("statement", m["Drancy"].id)}
    bobigny = docs[("invoice", m["Bobigny"].id)]
    assert (bobigny.number, bobigny.total_cents, bobigny.fees_cents) == ("INV-2026-09-0001", 1120, 22)
    startup = docs[("invoice", m["Start-up Incubateur Bondy"].id)]
    assert (startup.number, startup.total_cents, startup.fees_cents) == ("INV-2026-09-0002", 87, 2)
    drancy = docs[("statement", m["Drancy"].id)]
    assert (drancy.number, drancy.total_cents, drancy.fees_cents) == ("STM-2026-09-0001", 1183, 24)
    assert bobigny.issued_on == date(2026, 10, 1)

    by_book = {(line.workload_id, ledger.books_by_id()[line.price_book_id]): line for line in lines}
    before = by_book[(ledger.workload_ids["compta"], "public at cost")]
    after = by_book[(ledger.workload_ids["compta"], "public at cost 16 Sep")]
    ml = by_book[(ledger.workload_ids["ml"], "PPP at cost + 25 %")]
    assert (before.amount, before.fee, before.credit) == (E("5.24"), E("0.10"), E("5.14"))
    assert before.quantities.seconds == 360 * 3600 and before.quantities.vcpu_seconds == 2 * 360 * 3600
    assert (after.amount, after.fee, after.credit) == (E("5.96"), E("0.12"), E("5.84"))
    assert (ml.amount, ml.fee, ml.credit) == (E("0.87"), E("0.02"), E("0.85"))
    assert len(lines) == 3

    s = settle(lines)
    assert s.transfers == {(m["Bobigny"].id, m["Drancy"].id): E("10.98"),
                           (m["Start-up Incubateur Bondy"].id, m["Drancy"].id): E("0.85")}
    assert s.fees == {m["Bobigny"].id: E("0.22"), m["Start-up Incubateur Bondy"].id: E("0.02")}


def test_a_period_billed_again_changes_nothing(ledger: Ledger) -> None:
    demo_month(ledger)
    first, _ = billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    # New usage rolled up later, or a price book backdated into the period, must not alter a closed period.
    ledger.held("late", "Bobigny", "vm.small", "hv1", datetime(2026, 9, 20, tzinfo=UTC),
                datetime(2026, 9, 21, tzinfo=UTC))
    again, created = billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW + timedelta(days=3))
    assert not created and again == first
    with ledger.uow_factory() as uow:
        assert len(uow.billing.documents(run_id=first.id)) == 3
        assert len(uow.billing.lines(first.id)) == 3
    with pytest.raises(Conflict) as refused:
        billing.add_price_book(ledger.uow_factory(), OPERATOR,
                               PriceBookCreate(name="backdated", valid_from=date(2026, 9, 20)))
    assert refused.value.code == "civicloud.price_book.billed_period"


def test_a_price_book_change_applies_from_its_date_only(ledger: Ledger) -> None:
    demo_month(ledger)
    billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    with ledger.uow_factory() as uow:
        run = uow.billing.run_for("2026-09")
        lines = uow.billing.lines(run.id, borrower_id=ledger.members["Bobigny"].id)  # type: ignore[union-attr]
    names = ledger.books_by_id()
    hours = {names[line.price_book_id]: line.quantities.seconds / 3600 for line in lines}
    # Paris midnight of 16 September is 15 September 22:00 UTC: 15 days on each book.
    assert hours == {"public at cost": 360, "public at cost 16 Sep": 360}


def test_credit_note_corrects_an_invoice_without_editing_it(ledger: Ledger) -> None:
    demo_month(ledger)
    billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    note = billing.credit_note(ledger.uow_factory(), OPERATOR, "INV-2026-09-0001", E("2.50"), "hv1 was down for a day")
    assert (note.kind, note.number, note.total_cents) == ("credit_note", "AVO-2026-09-0001", -250)
    invoice = billing.get_document(ledger.uow_factory(), OPERATOR, ledger.members["Bobigny"].id, "INV-2026-09-0001")
    assert invoice.document.total_cents == 1120  # untouched
    assert note.corrects_id == invoice.document.id
    with pytest.raises(InvalidInput):  # more than what is left of the invoice
        billing.credit_note(ledger.uow_factory(), OPERATOR, "INV-2026-09-0001", E("9.00"), "too much")
    with pytest.raises(NotFound):  # statements are not corrected by credit notes
        billing.credit_note(ledger.uow_factory(), OPERATOR, "STM-2026-09-0001", E("1.00"), "no")


def test_csv_export_has_one_row_per_line(ledger: Ledger) -> None:
    demo_month(ledger)
    billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    view = billing.get_document(ledger.uow_factory(), OPERATOR, ledger.members["Bobigny"].id, "INV-2026-09-0001")
    rows = billing.document_csv(view, {}).strip().splitlines()
    assert rows[0].startswith("document,kind,period,member,siret,workload")
    assert len(rows) == 3
    assert rows[1].split(",")[-3:] == ["5.24", "0.10", "5.14"]
    assert rows[2].split(",")[-3:] == ["5.96", "0.12", "5.84"]
    assert ",720.000000," in rows[1]  # 2 vCPU × 360 h


@pytest.mark.parametrize(("period", "code"), [("2026-13", "civicloud.billing.invalid_period"),
                                              ("november", "civicloud.billing.invalid_period"),
                                              ("2026-12", "civicloud.billing.period_open")])
def test_bad_periods(ledger: Ledger, period: str, code: str) -> None:
    with pytest.raises((InvalidInput, Conflict)) as info:
        billing.run_billing(ledger.uow_factory, OPERATOR, period, NOW)
    assert info.value.code == code


def test_usage_without_a_price_book_names_the_borrower_and_bills_nothing(ledger: Ledger) -> None:
    demo_month(ledger)
    ledger.member("Montreuil", MemberCategory.COMMUNE)  # no agreement: no book covers it
    ledger.held("site-web", "Montreuil", "vm.small", "hv1", datetime(2026, 9, 3, tzinfo=UTC),
                datetime(2026, 9, 4, tzinfo=UTC))
    with pytest.raises(Conflict) as info:
        billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    assert info.value.code == "civicloud.billing.no_price_book" and "Montreuil" in info.value.message
    with ledger.uow_factory() as uow:
        assert uow.billing.run_for("2026-09") is None  # nothing half-written


def test_usage_records_are_recomputed_identically(ledger: Ledger) -> None:
    from civicloud.domain.metering import records_for
    from civicloud.services.metering import roll_up

    demo_month(ledger)
    ledger.sample("compta", "hv1", datetime(2026, 9, 5, 10, 10, tzinfo=UTC), 1000, 1500)
    ledger.sample("compta", "hv1", datetime(2026, 9, 5, 10, 40, tzinfo=UTC), 1600, 2500)
    written = roll_up(ledger.uow_factory, MONTH_END, grace=timedelta(0))
    assert written == 720 + 48 + 720 + 72  # compta, ml, and dossier-patient since three days before
    assert roll_up(ledger.uow_factory, MONTH_END, grace=timedelta(0)) == 0  # nothing twice
    with ledger.uow_factory() as uow:
        stored = uow.usage_records.between(MONTH_START - timedelta(days=3), MONTH_END)
        again = records_for(uow.usage_records.held_between(MONTH_START - timedelta(days=3), MONTH_END),
                            uow.usage_records.samples_between(MONTH_START - timedelta(days=3), MONTH_END),
                            MONTH_START - timedelta(days=3), MONTH_END)
    assert stored == again
    measured = next(r for r in stored if r.hour == datetime(2026, 9, 5, 10, tzinfo=UTC)
                    and r.workload_id == ledger.workload_ids["compta"])
    assert measured.cpu_time_ns == 600 * 10**9 and measured.memory_used_mib == 2000


def test_showback_of_the_demo_month(ledger: Ledger) -> None:
    demo_month(ledger)
    billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
    s = billing.showback(ledger.uow_factory, OPERATOR, "Bobigny", "2026-09", 52.0, NOW)
    assert s.billed and s.cost == E("11.20")
    assert {cls: q.seconds // 3600 for cls, q in s.by_class.items()} == {"harvest": 720}
    assert (s.peak.vcpus, s.peak.memory_gib, s.peak.disk_gib) == (2, 4, 20)
    # Alone: 2 vCPU, 4 GiB and 20 GiB all month at the book of 1 September:
    # 2×720×0.005 + 4×720×0.001 + 20×720/730×0.02 = 7.20 + 2.88 + 0.39452… = 10.47 €.
    assert s.going_alone == E("10.47")
    # hv1: 16 cores × 4 = 64 vCPU, 120 W idle, 350 W at full load. compta, unsampled, counts its 2 vCPU busy:
    # idle 120 × 2/64 = 3.75 Wh, dynamic 230 × 2/16 = 28.75 Wh: 32.5 Wh an hour, 23.4 kWh in 720 h; × 52 g/kWh.
    assert round(s.footprint.energy_kwh, 6) == 23.4 and round(s.footprint.co2_kg, 6) == round(23.4 * 0.052, 6)
    hospital = billing.showback(ledger.uow_factory, OPERATOR, "Hôpital Avicenne", "2026-09", 52.0, NOW)
    assert hospital.by_class == {} and hospital.own_use.seconds == 720 * 3600 and hospital.cost == 0
    with pytest.raises(InvalidInput):
        billing.showback(ledger.uow_factory, OPERATOR, "Bobigny", "2027-01", 52.0, NOW)  # not started


def test_showback_prices_a_month_in_progress(ledger: Ledger) -> None:
    demo_month(ledger)
    s = billing.showback(ledger.uow_factory, OPERATOR, "Bobigny", "2026-09", 52.0,
                         datetime(2026, 9, 2, 22, 30, tzinfo=UTC))
    assert not s.billed
    assert s.end == datetime(2026, 9, 2, 22, tzinfo=UTC)  # the last whole hour: 48 hours so far
    assert s.cost == E("0.70")  # 2×48×0.005 + 4×48×0.001 + 20×48/730×0.02 = 0.48 + 0.192 + 0.0263… = 0.6983…
