"""Price books: prices per agreement kind, member category and class, from a date on."""

from __future__ import annotations

from civicloud.domain.billing import (
    PriceBook,
    Prices,
    check_price_book,
)
from civicloud.domain.periods import BILLING_TZ, period_bounds
from civicloud.errors import Conflict
from civicloud.store import UnitOfWork
from civicloud.wire import PriceBookCreate


def add_price_book(uow: UnitOfWork, cmd: PriceBookCreate) -> PriceBook:
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


def list_price_books(uow: UnitOfWork) -> list[PriceBook]:
    with uow:
        return uow.price_books.list()
