"""Billing runs: a period priced, its lines rounded, one invoice per borrower and one statement per lender."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from civicloud.clock import IdSource
from civicloud.domain import (
    Agreement,
    AgreementKind,
    Member,
    ServiceClass,
)
from civicloud.domain.billing import (
    BillingRun,
    Document,
    DocumentKind,
    Line,
    Quantities,
    Settlement,
    book_for,
    cents_of,
    price_line,
    settle,
)
from civicloud.domain.members import agreements_in_force
from civicloud.domain.periods import BILLING_TZ, period_bounds, pieces
from civicloud.errors import Conflict, NotFound
from civicloud.services._common import UowFactory
from civicloud.services.access import Caller, operation
from civicloud.services.metering import roll_up
from civicloud.store import UnitOfWork

KIND_PREFIX = {DocumentKind.INVOICE: "INV", DocumentKind.STATEMENT: "STM", DocumentKind.CREDIT_NOTE: "AVO"}




# -- billing runs ----------------------------------------------------------------------------------------


@operation("billing.run")
def run_billing(uow_factory: UowFactory, caller: Caller, period: str,
                now: datetime | None = None) -> tuple[BillingRun, bool]:
    """Bill ``period``: (the run, whether it was created now). A period billed already is returned as it is."""
    start, end = period_bounds(period)
    with uow_factory() as uow:
        now = now or uow.clock()
        existing = uow.billing.run_for(period)
    if existing is not None:
        return existing, False
    if end > now:
        raise Conflict(f"period {period} ends on {end.astimezone(BILLING_TZ):%Y-%m-%d %H:%M} (Paris time); bill it "
                       "once it is over", code="civicloud.billing.period_open", field="period")
    roll_up(uow_factory, end, grace=timedelta(0))
    try:
        with uow_factory() as uow:
            if (existing := uow.billing.run_for(period)) is not None:
                return existing, False
            lines, own_use = _price_period(uow, start, end)
            run = BillingRun(uow.new_id(), period, now, sum(cents_of(line.amount) for line in lines),
                             sum(cents_of(line.fee) for line in lines), own_use)
            members = {m.id: m for m in uow.members.list()}
            uow.billing.add_run(run, [(uow.new_id(), line) for line in lines],
                                _documents(run, lines, members, end, uow.new_id))
            uow.commit()
            return run, True
    except Conflict as exc:
        if exc.code != "civicloud.store.conflict":
            raise
    # Another replica billed the period at the same moment: its run stands.
    with uow_factory() as uow:
        return require_run(uow, period), False


def _price_period(uow: UnitOfWork, start: datetime, end: datetime,
                  borrower_id: str | None = None) -> tuple[list[Line], int]:
    books = uow.price_books.list()
    agreements = uow.agreements.all()
    members = {m.id: m for m in uow.members.list()}
    offerings = {o.id: o for o in uow.offerings.list()}
    summed: dict[tuple[str, str, str, str, ServiceClass, str], Quantities] = defaultdict(Quantities)
    own_use = 0
    for piece_start, piece_end in pieces(start, end, books, agreements):
        day = piece_start.astimezone(BILLING_TZ).date()
        kinds = _agreement_kinds(agreements, day)
        for g in uow.usage_records.grouped(piece_start, piece_end, member_id=borrower_id):
            if g.borrower_id == g.lender_id:
                own_use += g.quantities.seconds
                continue
            member = members[g.borrower_id]
            kind = kinds.get(member.id)
            book = book_for(books, day, kind, member.category, g.service_class)
            if book is None:
                raise Conflict(f"no price book applies to {member.name} ({member.category.value}, "
                               f"{kind.value if kind else 'no agreement'}) for "
                               f"{g.service_class.value} work on {day}; add one with 'civicloud price-book add'",
                               code="civicloud.billing.no_price_book")
            summed[(g.borrower_id, g.lender_id, g.workload_id, g.offering_id, g.service_class, book.id)] += g.quantities
    by_id = {b.id: b for b in books}
    lines = [price_line(b, le, w, o, cls, by_id[book_id], q, ehealth=bool(offerings[o].hds_activities))
             for (b, le, w, o, cls, book_id), q in sorted(summed.items(), key=lambda kv: kv[0][:4] + (kv[0][5],))]
    return lines, own_use


def _agreement_kinds(agreements: Iterable[Agreement], day: date) -> dict[str, AgreementKind]:
    """member -> the kind of its agreement in force on ``day`` (``domain.members.agreements_in_force``)."""
    return {member_id: a.kind for member_id, a in agreements_in_force(agreements, day).items()}


def _documents(run: BillingRun, lines: list[Line], members: dict[str, Member], end: datetime,
               new_id: IdSource) -> list[Document]:
    issued = end.astimezone(BILLING_TZ).date()
    borrowed: dict[str, list[Line]] = defaultdict(list)
    lent: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        borrowed[line.borrower_id].append(line)
        lent[line.lender_id].append(line)
    docs = []
    for kind, groups, total in ((DocumentKind.INVOICE, borrowed, lambda ls: sum((x.amount for x in ls), Decimal(0))),
                                (DocumentKind.STATEMENT, lent, lambda ls: sum((x.credit for x in ls), Decimal(0)))):
        for seq, member_id in enumerate(sorted(groups, key=lambda m: (members[m].name, m)), start=1):
            ls = groups[member_id]
            docs.append(Document(new_id(), run.id, member_id, kind, f"{KIND_PREFIX[kind]}-{run.period}-{seq:04d}",
                                 issued, cents_of(total(ls)), cents_of(sum((x.fee for x in ls), Decimal(0)))))
    return docs


@operation("billing.list_runs")
def list_runs(uow: UnitOfWork, caller: Caller) -> list[BillingRun]:
    with uow:
        return uow.billing.runs()


def require_run(uow: UnitOfWork, period: str) -> BillingRun:
    period_bounds(period)
    run = uow.billing.run_for(period)
    if run is None:
        raise NotFound(f"period {period} has not been billed; run 'civicloud billing run --period {period}'",
                       code="civicloud.billing_run.not_found")
    return run


@operation("billing.get_run")
def get_run(uow: UnitOfWork, caller: Caller, period: str) -> BillingRun:
    with uow:
        return require_run(uow, period)


@operation("billing.settlement")
def settlement(uow: UnitOfWork, caller: Caller, period: str) -> tuple[BillingRun, Settlement]:
    with uow:
        run = require_run(uow, period)
        return run, settle(uow.billing.lines(run.id))
