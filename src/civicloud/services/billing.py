"""Price books, billing runs, invoices, statements, credit notes and the settlement between members.

Periods are calendar months in the federation's time zone (Europe/Paris: the
members are French public bodies and their accounts follow the civil month), so
a period's bounds are whole UTC hours and usage records fall wholly inside or
outside it. A billing run:

1. rolls usage up to the period's end;
2. cuts the period where a price book or a borrower's agreement starts or ends,
   and sums the usage records of each piece per (borrower, lender, workload,
   offering, class) in the database;
3. prices each sum with the book in force for that borrower and class on that
   piece (``domain.billing.book_for``), adds the pieces priced by the same book,
   and rounds each line once (``domain.billing`` states the rule);
4. writes the lines, one invoice per borrower and one statement per lender,
   numbered, in one transaction.

A run is idempotent: a period already billed returns its run unchanged. A
lender's use of its own hosts is metered (usage, showback) but not billed.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from civicloud.clock import IdSource
from civicloud.domain import (
    Agreement,
    AgreementKind,
    Member,
    ServiceClass,
    Site,
    validate_siren,
    validate_siret,
)
from civicloud.domain.billing import (
    BillingRun,
    Document,
    DocumentKind,
    Line,
    PriceBook,
    Prices,
    Quantities,
    Settlement,
    book_for,
    cents_of,
    check_price_book,
    euros,
    price_line,
    settle,
)
from civicloud.domain.members import agreements_in_force
from civicloud.domain.metering import floor_hour
from civicloud.domain.periods import BILLING_TZ, period_bounds, pieces
from civicloud.domain.showback import (
    Footprint,
    Peak,
    PowerModel,
    by_class,
    footprint,
    going_alone,
    peak,
)
from civicloud.errors import Conflict, InvalidInput, NotFound
from civicloud.exports.facturx import InvoiceDoc, Party, describe, facturx_pdf
from civicloud.services._common import UowFactory
from civicloud.services.members import require_member
from civicloud.services.metering import roll_up
from civicloud.store import UnitOfWork
from civicloud.store.repositories import GroupedUsage
from civicloud.wire import PriceBookCreate

KIND_PREFIX = {DocumentKind.INVOICE: "INV", DocumentKind.STATEMENT: "STM", DocumentKind.CREDIT_NOTE: "AVO"}


# -- price books -----------------------------------------------------------------------------------------


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


# -- billing runs ----------------------------------------------------------------------------------------


def run_billing(uow_factory: UowFactory, period: str, now: datetime | None = None) -> tuple[BillingRun, bool]:
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


def list_runs(uow: UnitOfWork) -> list[BillingRun]:
    with uow:
        return uow.billing.runs()


def require_run(uow: UnitOfWork, period: str) -> BillingRun:
    period_bounds(period)
    run = uow.billing.run_for(period)
    if run is None:
        raise NotFound(f"period {period} has not been billed; run 'civicloud billing run --period {period}'",
                       code="civicloud.billing_run.not_found")
    return run


def settlement(uow: UnitOfWork, period: str) -> tuple[BillingRun, Settlement]:
    with uow:
        run = require_run(uow, period)
        return run, settle(uow.billing.lines(run.id))


# -- documents -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentView:
    document: Document
    member: Member
    period: str
    lines: list[Line]


def member_documents(uow: UnitOfWork, member_ref: str, kind: str | None = None) -> list[Document]:
    with uow:
        member = require_member(uow, member_ref)
        return uow.billing.documents(member_id=member.id, kind=kind)


def document_view(uow: UnitOfWork, document_ref: str, member_ref: str | None = None) -> DocumentView:
    """An invoice (the member's borrowing), a statement (its lending) or a credit note, with its lines."""
    with uow:
        doc = uow.billing.document(document_ref)
        member = require_member(uow, member_ref) if member_ref is not None else None
        if doc is None or (member is not None and doc.member_id != member.id):
            raise NotFound.of("invoice", document_ref)
        owner = require_member(uow, doc.member_id)
        run = next(r for r in uow.billing.runs() if r.id == doc.run_id)
        if doc.kind == "invoice":
            lines = uow.billing.lines(run.id, borrower_id=doc.member_id)
        elif doc.kind == "statement":
            lines = uow.billing.lines(run.id, lender_id=doc.member_id)
        else:
            lines = []
        # Per counterpart and workload, then in the order the price books took effect.
        since = {b.id: (b.valid_from, b.created_at) for b in uow.price_books.list()}
        lines.sort(key=lambda x: (x.lender_id, x.borrower_id, x.workload_id, since[x.price_book_id]))
        return DocumentView(doc, owner, run.period, lines)


def credit_note(uow: UnitOfWork, document_ref: str, amount: Decimal, reason: str) -> Document:
    """A correction of an invoice: a credit note for ``amount``, never an edit of the invoice."""
    with uow:
        doc = uow.billing.document(document_ref)
        if doc is None or doc.kind != "invoice":
            raise NotFound.of("invoice", document_ref)
        credited = sum((-d.total_cents for d in uow.billing.documents(member_id=doc.member_id, kind="credit_note")
                        if d.corrects_id == doc.id), 0)
        cents = int((amount * 100).to_integral_value())
        if cents <= 0 or cents + credited > doc.total_cents:
            raise InvalidInput(f"a credit note takes between 0.01 € and what is left of the invoice "
                               f"({(doc.total_cents - credited) / 100:.2f} €)", code="civicloud.billing.invalid_credit",
                               field="amount")
        run = next(r for r in uow.billing.runs() if r.id == doc.run_id)
        prefix = f"{KIND_PREFIX[DocumentKind.CREDIT_NOTE]}-{run.period}-"
        note = Document(uow.new_id(), doc.run_id, doc.member_id, DocumentKind.CREDIT_NOTE,
                        f"{prefix}{uow.billing.count_documents(prefix) + 1:04d}",
                        uow.clock().astimezone(BILLING_TZ).date(), -cents, 0, doc.id, reason)
        uow.billing.add_documents([note])
        uow.commit()
        return note


def document_facturx(uow: UnitOfWork, document_ref: str, member_ref: str, operator_name: str,
                     operator_siret: str | None) -> tuple[str, bytes]:
    """(file name, Factur-X PDF) of an invoice or credit note; the operator is the seller."""
    if not operator_siret:
        raise Conflict("Factur-X invoices name their seller, the federation's operator: set CIVICLOUD_OPERATOR_SIRET "
                       "(and CIVICLOUD_OPERATOR_NAME) on the server", code="civicloud.billing.operator_unset")
    compact = "".join(ch for ch in operator_siret if ch.isdigit())
    siren = validate_siren(compact[:9])
    seller = Party(operator_name, siren, validate_siret(compact, siren))
    view = document_view(uow, document_ref, member_ref)
    d = view.document
    if d.kind == "statement":
        raise Conflict(f"{d.number} is a statement of what {view.member.name} lent, not an invoice: export it as CSV",
                       code="civicloud.billing.not_an_invoice")
    start, end = period_bounds(view.period)
    with uow:
        names = {m.id: m.name for m in uow.members.list()} | {o.id: o.name for o in uow.offerings.list()}
        corrected = uow.billing.document(d.corrects_id) if d.corrects_id else None
    if d.kind == "invoice":
        lines = [(describe(line, names), line.amount) for line in view.lines]
        note = f"Capacité empruntée aux membres de la fédération, période {view.period}"
    else:
        lines = [(f"Avoir sur la facture {corrected.number if corrected else ''} : {d.reason}",
                  euros(-d.total_cents))]
        note = d.reason
    doc = InvoiceDoc(d.number, d.kind, d.issued_on, start.astimezone(BILLING_TZ).date(),
                     (end.astimezone(BILLING_TZ) - timedelta(days=1)).date(), seller,
                     Party(view.member.name, view.member.siren, view.member.siret), lines, note)
    return f"{d.number}.pdf", facturx_pdf(doc)


CSV_COLUMNS = ["document", "kind", "period", "member", "siret", "workload", "offering", "service_class",
               "counterpart", "vcpu_hours", "ram_gib_hours", "disk_gib_months", "gpu_hours", "price_book",
               "amount_eur", "operator_fee_eur", "lender_credit_eur"]


def document_csv(view: DocumentView, names: dict[str, str]) -> str:
    """One row per line; the quantities with 6 decimals, money with 2."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    d = view.document
    for line in view.lines:
        q = line.quantities
        other = line.lender_id if d.kind == "invoice" else line.borrower_id
        writer.writerow([d.number, d.kind, view.period, view.member.name, view.member.siret or view.member.siren,
                         line.workload_id, names.get(line.offering_id, line.offering_id), line.service_class.value,
                         names.get(other, other), f"{q.vcpu_hours:.6f}", f"{q.ram_gib_hours:.6f}",
                         f"{q.disk_gib_months:.6f}", f"{q.gpu_hours:.6f}", line.price_book_id, f"{line.amount:.2f}",
                         f"{line.fee:.2f}", f"{line.credit:.2f}"])
    return out.getvalue()


PERIOD_CSV_COLUMNS = ["period", "borrower", "borrower_siret", "lender", "lender_siret", "workload", "offering",
                      "service_class", "price_book", "vcpu_hours", "ram_gib_hours", "disk_gib_months", "gpu_hours",
                      "amount_eur", "operator_fee_eur", "lender_credit_eur"]


def period_csv(uow: UnitOfWork, period: str) -> str:
    """Every line of a billed period, one row each: what the operator reconciles its accounts with."""
    with uow:
        run = require_run(uow, period)
        lines = uow.billing.lines(run.id)
        members = {m.id: m for m in uow.members.list()}
        offerings = {o.id: o.name for o in uow.offerings.list()}
        books = {b.id: b.name for b in uow.price_books.list()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PERIOD_CSV_COLUMNS)
    for line in lines:
        b, le, q = members[line.borrower_id], members[line.lender_id], line.quantities
        writer.writerow([period, b.name, b.siret or b.siren, le.name, le.siret or le.siren, line.workload_id,
                         offerings.get(line.offering_id, line.offering_id), line.service_class.value,
                         books.get(line.price_book_id, line.price_book_id), f"{q.vcpu_hours:.6f}",
                         f"{q.ram_gib_hours:.6f}", f"{q.disk_gib_months:.6f}", f"{q.gpu_hours:.6f}",
                         f"{line.amount:.2f}", f"{line.fee:.2f}", f"{line.credit:.2f}"])
    return out.getvalue()


# -- usage -----------------------------------------------------------------------------------------------


def member_usage(uow_factory: UowFactory, member_ref: str, start: datetime, end: datetime,
                 now: datetime | None = None) -> tuple[Member, list[GroupedUsage], list[GroupedUsage]]:
    """(member, what it borrowed, what it lent) over [start, end), from the usage records (rolled up first)."""
    if end <= start:
        raise InvalidInput("the end of a usage range comes after its start", code="civicloud.usage.invalid_range",
                           field="to")
    roll_up(uow_factory, now or uow_factory().clock())
    with uow_factory() as uow:
        member = require_member(uow, member_ref)
        return (member, uow.usage_records.grouped(start, end, member_id=member.id),
                uow.usage_records.grouped(start, end, member_id=member.id, as_lender=True))


# -- showback --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Showback:
    member: Member
    period: str
    start: datetime
    end: datetime  # the period's end, or now if it is not over
    by_class: dict[str, Quantities]  # borrowed from other members
    own_use: Quantities  # on its own hosts
    cost: Decimal  # invoiced (with credit notes) if the period is billed, else priced so far
    billed: bool
    going_alone: Decimal | None  # None: no price book applies to it
    peak: Peak
    footprint: Footprint


def showback(uow_factory: UowFactory, member_ref: str, period: str, default_carbon_g_per_kwh: float,
             now: datetime | None = None) -> Showback:
    """A member's month: usage by class, cost, cost alone, energy and CO₂ (``domain.showback`` says how)."""
    start, end = period_bounds(period)
    now = now or uow_factory().clock()
    until = min(end, floor_hour(now))
    if until <= start:
        raise InvalidInput(f"period {period} has not started", code="civicloud.billing.invalid_period",
                           field="period")
    roll_up(uow_factory, now)
    with uow_factory() as uow:
        member = require_member(uow, member_ref)
        records = uow.usage_records.for_borrower(member.id, start, until)
        hosts = uow.hosts.list()
        sites = {site.id: site for site in uow.sites.list()}
        run = uow.billing.run_for(period)
        if run is not None:
            cost = euros(sum(d.total_cents for d in uow.billing.documents(member_id=member.id, run_id=run.id)
                             if d.kind in ("invoice", "credit_note")))
        else:
            lines, _own = _price_period(uow, start, until, member.id)
            cost = sum((line.amount for line in lines), Decimal("0.00"))
        kinds = _agreement_kinds(uow.agreements.all(), start.astimezone(BILLING_TZ).date())
        book = book_for(uow.price_books.list(), start.astimezone(BILLING_TZ).date(), kinds.get(member.id),
                        member.category, ServiceClass.GUARANTEED)
    models = {h.id: PowerModel(h.idle_watts, h.max_watts, h.total.vcpus * h.ratios.cpu, h.total.vcpus,
                               _carbon(sites.get(h.site_id), default_carbon_g_per_kwh)) for h in hosts}
    borrowed = [r for r in records if r.lender_id != member.id]
    own = [r for r in records if r.lender_id == member.id]
    hours = int((until - start).total_seconds() // 3600)  # the period so far, if it is not over
    top = peak(records)
    return Showback(member, period, start, until, by_class(borrowed),
                    sum((q for q in by_class(own).values()), Quantities()), cost, run is not None,
                    going_alone(top, book.prices, hours) if book else None, top, footprint(records, models))


def _carbon(site: Site | None, default: float) -> float:
    return default if site is None or site.carbon_g_per_kwh is None else float(site.carbon_g_per_kwh)
