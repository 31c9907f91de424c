"""Price books: prices per agreement kind, member category and class, from a date on."""

from __future__ import annotations

from decimal import Decimal

from civicloud.domain.billing import (
    PriceBook,
    Prices,
    check_price_book,
)
from civicloud.domain.periods import BILLING_TZ, period_bounds
from civicloud.domain.pricing import CostBreakdown, CostInputs, cost_model, with_margin
from civicloud.errors import Conflict
from civicloud.services.access import Caller, operation
from civicloud.store import UnitOfWork
from civicloud.wire import PriceBookCreate


@operation("price_books.create")
def add_price_book(uow: UnitOfWork, caller: Caller, cmd: PriceBookCreate) -> PriceBook:
    book = PriceBook(uow.new_id(), cmd.name, cmd.valid_from,
                     Prices(cmd.vcpu_hour, cmd.ram_gib_hour, cmd.disk_gib_month, cmd.gpu_hour, cmd.desktop_month,
                            cmd.ehealth_month),
                     cmd.operator_fee_percent, cmd.agreement_kind, cmd.member_category, cmd.service_class,
                     created_at=uow.clock())
    check_price_book(book)
    with uow:
        closed = [r.period for r in uow.billing.runs() if period_bounds(r.period)[1].astimezone(BILLING_TZ).date()
                  > book.valid_from]
        if closed:
            raise Conflict(f"period {closed[-1]} is billed already and this price book would apply to it; make it "
                           "valid from after the last billed period (a correction is a credit note)",
                           code="civicloud.price_book.billed_period", field="valid_from")
        uow.price_books.add(book)
        uow.commit()
    return book


@operation("pricing.cost_model")
def price_at_cost(caller: Caller, inputs: CostInputs, margin_percent: Decimal) -> tuple[CostBreakdown, Prices]:
    """Unit prices at cost from a lender's hardware, energy and staff costs, and with a margin: (the model,
    the prices with the margin)."""
    result = cost_model(inputs)
    return result, with_margin(result.prices, margin_percent)


@operation("price_books.list")
def list_price_books(uow: UnitOfWork, caller: Caller) -> list[PriceBook]:
    with uow:
        return uow.price_books.list()
