"""Invoices, statements and credit notes: reading them, and correcting an invoice (never editing it)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from civicloud.domain import (
    Member,
)
from civicloud.domain.billing import (
    Document,
    DocumentKind,
    Line,
)
from civicloud.domain.periods import BILLING_TZ
from civicloud.errors import InvalidInput, NotFound
from civicloud.services.access import Caller, operation
from civicloud.services.billing.runs import KIND_PREFIX
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork


@dataclass(frozen=True)
class DocumentView:
    document: Document
    member: Member
    period: str
    lines: list[Line]


def _member_documents(uow: UnitOfWork, member_ref: str, kind: str | None = None) -> list[Document]:
    with uow:
        member = require_member(uow, member_ref)
        return uow.billing.documents(member_id=member.id, kind=kind)


@operation("invoices.list")
def member_invoices(uow: UnitOfWork, caller: Caller, member_id: str) -> list[Document]:
    """The member's invoices (what it borrowed) and credit notes."""
    return [d for d in _member_documents(uow, member_id) if d.kind in ("invoice", "credit_note")]


@operation("statements.list")
def member_statements(uow: UnitOfWork, caller: Caller, member_id: str) -> list[Document]:
    """The member's statements: what it lent, minus the operator's fee."""
    return _member_documents(uow, member_id, "statement")


@operation("invoices.get")
def get_document(uow: UnitOfWork, caller: Caller, member_id: str, document_ref: str) -> DocumentView:
    """An invoice, statement or credit note of the member (by id or number), with its lines."""
    return document_view(uow, document_ref, member_id)


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


@operation("invoices.credit")
def credit_note(uow: UnitOfWork, caller: Caller, document_ref: str, amount: Decimal, reason: str) -> Document:
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
