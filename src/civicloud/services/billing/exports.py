"""Documents as files: Factur-X (PDF/A-3 with its CII XML), CSV per document and per period."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from civicloud.domain import (
    validate_siren,
    validate_siret,
)
from civicloud.domain.billing import (
    euros,
)
from civicloud.domain.periods import BILLING_TZ, period_bounds
from civicloud.errors import Conflict
from civicloud.exports.facturx import InvoiceDoc, Party, describe, facturx_pdf
from civicloud.services.access import Caller, operation
from civicloud.services.billing.documents import DocumentView, document_view
from civicloud.services.billing.runs import require_run
from civicloud.store import UnitOfWork


@operation("invoices.export_facturx")
def document_facturx(uow: UnitOfWork, caller: Caller, member_id: str, document_ref: str, operator_name: str,
                     operator_siret: str | None) -> tuple[str, bytes]:
    """(file name, Factur-X PDF) of an invoice or credit note; the operator is the seller."""
    if not operator_siret:
        raise Conflict("Factur-X invoices name their seller, the federation's operator: set CIVICLOUD_OPERATOR_SIRET "
                       "(and CIVICLOUD_OPERATOR_NAME) on the server", code="civicloud.billing.operator_unset")
    compact = "".join(ch for ch in operator_siret if ch.isdigit())
    siren = validate_siren(compact[:9])
    seller = Party(operator_name, siren, validate_siret(compact, siren))
    view = document_view(uow, document_ref, member_id)
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


@operation("invoices.export_csv")
def document_csv_file(uow: UnitOfWork, caller: Caller, member_id: str, document_ref: str) -> tuple[str, str]:
    """(file name, CSV) of one of the member's documents, a row per line."""
    view = document_view(uow, document_ref, member_id)
    with uow:
        names = {m.id: m.name for m in uow.members.list()} | {o.id: o.name for o in uow.offerings.list()}
    return f"{view.document.number}.csv", document_csv(view, names)


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


@operation("billing.export_period")
def period_csv(uow: UnitOfWork, caller: Caller, period: str) -> str:
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
