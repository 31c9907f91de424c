"""Prices, rounding, conservation and settlement (domain.billing), and the cost model (domain.pricing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloud.domain import AgreementKind, MemberCategory, ServiceClass
from civicloud.domain.billing import (
    PriceBook,
    Prices,
    Quantities,
    book_for,
    check_price_book,
    price_line,
    settle,
)
from civicloud.domain.pricing import CostInputs, cost_model, with_margin
from civicloud.errors import InvalidInput

H = ServiceClass.HARVEST
prices_st = st.builds(Prices, *(st.decimals(0, 5, places=6) for _ in range(6)))
quantities_st = st.builds(Quantities, *(st.integers(0, 10**10) for _ in range(5)))
fee_st = st.decimals(0, 30, places=2)


def book(prices: Prices, fee: Decimal = Decimal(0), **kw: object) -> PriceBook:
    return PriceBook(kw.pop("id", "b1"), "test", kw.pop("valid_from", date(2026, 1, 1)), prices, fee,  # type: ignore[arg-type]
                     created_at=datetime(2026, 1, 1, tzinfo=UTC), **kw)


@settings(max_examples=300, deadline=None)
@given(prices_st, quantities_st, fee_st, st.booleans())
def test_a_line_is_usage_times_price_rounded_once_half_up(p: Prices, q: Quantities, fee: Decimal,
                                                           ehealth: bool) -> None:
    line = price_line("b", "l", "w", "o", H, book(p, fee), q, ehealth=ehealth)
    # The same sum written out independently: per resource, hours × unit price.
    exact = (Decimal(q.vcpu_seconds) / 3600 * p.vcpu_hour + Decimal(q.memory_mib_seconds) / 1024 / 3600 * p.ram_gib_hour
             + Decimal(q.disk_gib_seconds) / 3600 / 730 * p.disk_gib_month + Decimal(q.gpu_seconds) / 3600 * p.gpu_hour
             + (Decimal(q.seconds) / 3600 / 730 * p.ehealth_month if ehealth else 0))
    assert abs(line.amount - exact) <= Decimal("0.005") + Decimal("1e-15")
    assert line.amount == line.amount.quantize(Decimal("0.01"))
    assert line.fee == (line.amount * fee / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert line.amount == line.credit + line.fee


members_st = st.sampled_from(["drancy", "bobigny", "avicenne", "startup"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(members_st, members_st, prices_st, quantities_st, fee_st), max_size=30))
def test_conservation_and_settlement_for_any_usage(items) -> None:  # type: ignore[no-untyped-def]
    lines = [price_line(b, le, f"w{i}", "o", H, book(p, fee), q) for i, (b, le, p, q, fee) in enumerate(items)]
    billed = [x for x in lines if x.borrower_id != x.lender_id]  # own use is not billed
    charged = sum((x.amount for x in billed), Decimal(0))
    credits = sum((x.credit for x in billed), Decimal(0))
    fees = sum((x.fee for x in billed), Decimal(0))
    assert charged == credits + fees
    s = settle(lines)
    members = {"drancy", "bobigny", "avicenne", "startup"}
    # Every euro paid is received by a member or is a fee; netting never creates nor loses money…
    assert sum(s.paid_by(m) for m in members) == sum(s.received_by(m) for m in members) + fees
    assert sum(s.fees.values(), Decimal(0)) == fees
    # …each member's net position is what it is owed minus what it owes…
    for m in members:
        owes = sum((x.amount for x in billed if x.borrower_id == m), Decimal(0))
        owed = sum((x.credit for x in billed if x.lender_id == m), Decimal(0))
        assert s.received_by(m) - s.paid_by(m) == owed - owes
    # …and at most one transfer flows between two members, one way.
    assert not any((b, a) in s.transfers for a, b in s.transfers)
    assert all(v > 0 for v in s.transfers.values())


def test_netting_between_two_members() -> None:
    p = Prices(vcpu_hour=Decimal("1"))
    lines = [price_line("a", "b", "w1", "o", H, book(p, Decimal(10)), Quantities(vcpu_seconds=100 * 3600)),
             price_line("b", "a", "w2", "o", H, book(p, Decimal(10)), Quantities(vcpu_seconds=30 * 3600))]
    s = settle(lines)
    assert s.transfers == {("a", "b"): Decimal("63.00")}  # 90 − 27
    assert s.fees == {"a": Decimal("10.00"), "b": Decimal("3.00")}


def test_the_most_specific_book_in_force_applies() -> None:
    p = Prices()
    general = book(p, id="general")
    communes = book(p, id="communes", member_category=MemberCategory.COMMUNE)
    ppp = book(p, id="ppp", agreement_kind=AgreementKind.PPP, service_class=H)
    later = book(p, id="communes-2027", member_category=MemberCategory.COMMUNE, valid_from=date(2027, 1, 1))
    books = [general, communes, ppp, later]
    pick = lambda day, kind, cat: book_for(books, day, kind, cat, H).id  # noqa: E731
    assert pick(date(2026, 6, 1), AgreementKind.MUTUALISATION_CONVENTION, MemberCategory.COMMUNE) == "communes"
    assert pick(date(2027, 6, 1), AgreementKind.MUTUALISATION_CONVENTION, MemberCategory.COMMUNE) == "communes-2027"
    assert pick(date(2026, 6, 1), AgreementKind.PPP, MemberCategory.STARTUP) == "ppp"
    assert pick(date(2026, 6, 1), None, MemberCategory.HOSPITAL) == "general"
    assert book_for(books, date(2025, 12, 31), None, MemberCategory.HOSPITAL, H) is None


@pytest.mark.parametrize(("prices", "fee", "field"), [
    (Prices(vcpu_hour=Decimal("-1")), Decimal(0), "vcpu_hour"),
    (Prices(vcpu_hour=Decimal("0.0000001")), Decimal(0), "vcpu_hour"),
    (Prices(), Decimal(101), "operator_fee_percent"),
])
def test_bad_price_books_are_refused(prices: Prices, fee: Decimal, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_price_book(book(prices, fee))
    assert info.value.field == field


def test_cost_model_by_hand() -> None:
    # 20,000 € over 5 years = 4,000 €/y; 500 W × 8,760 h = 4,380 kWh × 0.20 € = 876 €/y; staff 3,000; other 1,124:
    # 9,000 €/y. At 75 % utilisation: 9,000 / 8,760 / 0.75 = 1.369863… €/h.
    r = cost_model(CostInputs(Decimal(20000), Decimal(5), Decimal(500), Decimal("0.20"), Decimal(3000),
                              Decimal(1124), Decimal(128), Decimal(512), Decimal(10000), Decimal("0.75")))
    assert r.yearly_eur == Decimal("9000.000000")
    assert r.hourly_eur == Decimal("1.369863")
    assert r.prices.vcpu_hour == Decimal("0.005351")  # 1.369863… × 0.5 / 128
    assert r.prices.ram_gib_hour == Decimal("0.001070")  # × 0.4 / 512
    assert r.prices.disk_gib_month == Decimal("0.010000")  # × 0.1 × 730 / 10,000
    assert with_margin(r.prices, Decimal(20)).vcpu_hour == Decimal("0.006421")


def test_cost_model_refuses_nonsense() -> None:
    with pytest.raises(InvalidInput):
        cost_model(CostInputs(Decimal(1), Decimal(5), Decimal(1), Decimal(1), Decimal(0), Decimal(0), Decimal(0),
                              Decimal(1), Decimal(1)))


def test_energy_of_a_measured_hour() -> None:
    from datetime import UTC, datetime

    from civicloud.domain.metering import UsageRecord
    from civicloud.domain.showback import PowerModel, record_energy_kwh

    host = PowerModel(idle_watts=100, max_watts=300, vcpu_capacity=32, cores=8, carbon_g_per_kwh=52)
    r = UsageRecord("r", "a", "w", "b", "l", "s", "h", "o", H, datetime(2026, 9, 1, tzinfo=UTC), 3600, 4 * 3600,
                    0, 0, 0, cpu_time_ns=1800 * 10**9)
    # idle: 100 W × 4/32 for an hour = 12.5 Wh; dynamic: 200 W × 1,800 CPU-s / 8 cores = 45,000 J = 12.5 Wh.
    assert record_energy_kwh(r, host) == pytest.approx(0.025)
