"""Metering and billing routes: price books, billing runs, invoices and statements, settlement, usage."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from civicloud.api.deps import AppSettings, Granted, Uow, Uows, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.domain.billing import BillingRun, Document, Line, PriceBook, euros
from civicloud.domain.pricing import CostInputs
from civicloud.services import billing
from civicloud.store.repositories import GroupedUsage
from civicloud.wire import (
    BillingLineOut,
    BillingRunCreate,
    BillingRunOut,
    ClassUsageOut,
    CostModelIn,
    CostModelOut,
    CreditNoteCreate,
    DocumentOut,
    MemberBalanceOut,
    MemberUsageOut,
    PriceBookCreate,
    PriceBookOut,
    SettlementOut,
    ShowbackOut,
    TransferOut,
    UsageLineOut,
)
from civicloud.wire.billing import Period
from civicloud.wire.common import Instant, Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)
HOUR = Decimal(3600)


@router.post("/price-books", status_code=status.HTTP_201_CREATED, tags=["billing"])
def add_price_book(body: PriceBookCreate, uow: Uow, grant: Granted) -> PriceBookOut:
    return book_out(billing.add_price_book(uow, grant, body))


@router.get("/price-books", tags=["billing"])
def list_price_books(uow: Uow, grant: Granted) -> list[PriceBookOut]:
    return [book_out(b) for b in billing.list_price_books(uow, grant)]


@router.post("/pricing/cost-model", tags=["billing"])
def price_at_cost(body: CostModelIn, grant: Granted) -> CostModelOut:
    """Unit prices at cost from a lender's hardware, energy and staff costs (plus an optional margin)."""
    inputs = CostInputs(**body.model_dump(exclude={"margin_percent"}))
    result, prices = billing.price_at_cost(grant, inputs, body.margin_percent)
    return CostModelOut(yearly_eur=result.yearly_eur, hourly_eur=result.hourly_eur, vcpu_hour=prices.vcpu_hour,
                        ram_gib_hour=prices.ram_gib_hour, disk_gib_month=prices.disk_gib_month)


@router.post("/billing/runs", status_code=status.HTTP_201_CREATED, tags=["billing"],
             responses={200: {"description": "the period was billed already: its run, unchanged"}})
def run_billing(body: BillingRunCreate, uows: Uows, response: Response, grant: Granted) -> BillingRunOut:
    run, created = billing.run_billing(uows, grant, body.period)
    if not created:
        response.status_code = status.HTTP_200_OK
    return run_out(run)


@router.get("/billing/runs", tags=["billing"])
def list_runs(uow: Uow, grant: Granted) -> list[BillingRunOut]:
    return [run_out(r) for r in billing.list_runs(uow, grant)]


@router.get("/billing/runs/{period}.csv", tags=["billing"], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def run_csv(period: Period, uow: Uow, grant: Granted) -> Response:
    """Every line of a billed period, one row each, with both parties' SIRET."""
    return Response(billing.period_csv(uow, grant, period), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="civicloud-{period}.csv"'})


@router.get("/billing/runs/{period}", tags=["billing"])
def get_run(period: Period, uow: Uow, grant: Granted) -> BillingRunOut:
    return run_out(billing.get_run(uow, grant, period))


@router.get("/billing/runs/{period}/settlement", tags=["billing"])
def get_settlement(period: Period, uow: Uow, grant: Granted) -> SettlementOut:
    """Who pays whom for the period, after netting the flows between each pair of members."""
    run, s = billing.settlement(uow, grant, period)
    members = sorted({m for pair in s.transfers for m in pair} | set(s.fees))
    return SettlementOut(
        period=run.period,
        transfers=[TransferOut(payer_id=p, payee_id=q, amount_eur=v) for (p, q), v in sorted(s.transfers.items())],
        operator_fees=[TransferOut(payer_id=m, payee_id="operator", amount_eur=v) for m, v in sorted(s.fees.items())],
        balances=[MemberBalanceOut(member_id=m, pays_eur=s.paid_by(m), receives_eur=s.received_by(m)) for m in members])


@router.get("/members/{member_id}/invoices", tags=["billing"])
def list_invoices(member_id: Ref, uow: Uow, grant: Granted) -> list[DocumentOut]:
    """The member's invoices (what it borrowed) and credit notes, without their lines."""
    return [document_out(d, None) for d in billing.member_invoices(uow, grant, member_id)]


@router.get("/members/{member_id}/statements", tags=["billing"])
def list_statements(member_id: Ref, uow: Uow, grant: Granted) -> list[DocumentOut]:
    """The member's statements: what it lent, minus the operator's fee."""
    return [document_out(d, None) for d in billing.member_statements(uow, grant, member_id)]


@router.get("/members/{member_id}/invoices/{invoice_id}.csv", tags=["billing"],
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def invoice_csv(member_id: Ref, invoice_id: Ref, uow: Uow, grant: Granted) -> Response:
    name, text = billing.document_csv_file(uow, grant, member_id, invoice_id)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/members/{member_id}/invoices/{invoice_id}.pdf", tags=["billing"],
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def invoice_pdf(member_id: Ref, invoice_id: Ref, uow: Uow, settings: AppSettings, grant: Granted) -> Response:
    """The invoice or credit note as Factur-X: a PDF/A-3 with its CII XML (BASIC profile) embedded."""
    name, pdf = billing.document_facturx(uow, grant, member_id, invoice_id, settings.operator_name,
                                         settings.operator_siret)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/members/{member_id}/invoices/{invoice_id}", tags=["billing"])
def get_invoice(member_id: Ref, invoice_id: Ref, uow: Uow, grant: Granted) -> DocumentOut:
    """An invoice, statement or credit note of the member (by id or number), with its lines."""
    view = billing.get_document(uow, grant, member_id, invoice_id)
    return document_out(view.document, view.period, view.lines)


@router.post("/invoices/{invoice_id}/credit-notes", status_code=status.HTTP_201_CREATED, tags=["billing"])
def add_credit_note(invoice_id: Ref, body: CreditNoteCreate, uow: Uow, grant: Granted) -> DocumentOut:
    """Correct an invoice: a credit note for part or all of it (an invoice is never edited)."""
    note = billing.credit_note(uow, grant, invoice_id, body.amount_eur, body.reason)
    return document_out(note, None)


@router.get("/members/{member_id}/usage", tags=["billing"])
def member_usage(uows: Uows, member_id: Ref, grant: Granted,
                 start: Annotated[Instant, Query(alias="from", description="an instant with its offset")],
                 end: Annotated[Instant, Query(alias="to", description="an instant with its offset")]
                 ) -> MemberUsageOut:
    """What the member borrowed and lent over [from, to), per workload, from the hourly usage records."""
    member, borrowed, lent = billing.member_usage(uows, grant, member_id, start, end)
    return MemberUsageOut(member_id=member.id, start=start, end=end,
                          borrowed=[usage_out(g, g.lender_id) for g in borrowed],
                          lent=[usage_out(g, g.borrower_id) for g in lent])


@router.get("/members/{member_id}/showback", tags=["billing"])
def member_showback(settings: AppSettings, uows: Uows, member_id: Ref, grant: Granted,
                    period: Annotated[Period, Query()]) -> ShowbackOut:
    """A member's month: usage by class, cost, what going alone would have cost, energy and CO₂."""
    s = billing.showback(uows, grant, member_id, period, settings.default_carbon_g_per_kwh)
    return ShowbackOut(
        member_id=s.member.id, period=s.period, start=s.start, end=s.end,
        borrowed=[ClassUsageOut(service_class=cls, hours=_q(Decimal(q.seconds) / HOUR), vcpu_hours=_q(q.vcpu_hours),
                                ram_gib_hours=_q(q.ram_gib_hours), disk_gib_months=_q(q.disk_gib_months))
                  for cls, q in sorted(s.by_class.items())],
        own_use_hours=_q(Decimal(s.own_use.seconds) / HOUR), cost_eur=s.cost, billed=s.billed,
        going_alone_eur=s.going_alone, peak_vcpus=_q(s.peak.vcpus), peak_memory_gib=_q(s.peak.memory_gib),
        peak_disk_gib=_q(s.peak.disk_gib), energy_kwh=Decimal(f"{s.footprint.energy_kwh:.3f}"),
        co2_kg=Decimal(f"{s.footprint.co2_kg:.3f}"))


# -- views -----------------------------------------------------------------------------------------------


def book_out(b: PriceBook) -> PriceBookOut:
    return PriceBookOut(id=b.id, name=b.name, valid_from=b.valid_from, agreement_kind=b.agreement_kind,
                        member_category=b.member_category, service_class=b.service_class,
                        operator_fee_percent=b.operator_fee_percent, **vars(b.prices))


def run_out(r: BillingRun) -> BillingRunOut:
    return BillingRunOut(id=r.id, period=r.period, created_at=r.created_at, charged_eur=euros(r.charged_cents),
                         fees_eur=euros(r.fees_cents), credited_eur=euros(r.charged_cents - r.fees_cents),
                         own_use_hours=Decimal(r.own_use_seconds) / HOUR)


def line_out(line: Line) -> BillingLineOut:
    q = line.quantities
    return BillingLineOut(borrower_id=line.borrower_id, lender_id=line.lender_id, workload_id=line.workload_id,
                          offering_id=line.offering_id, service_class=line.service_class,
                          price_book_id=line.price_book_id, vcpu_hours=_q(q.vcpu_hours),
                          ram_gib_hours=_q(q.ram_gib_hours), disk_gib_months=_q(q.disk_gib_months),
                          gpu_hours=_q(q.gpu_hours), amount_eur=line.amount, operator_fee_eur=line.fee,
                          lender_credit_eur=line.credit)


def document_out(d: Document, period: str | None, lines: list[Line] | None = None) -> DocumentOut:
    return DocumentOut(id=d.id, number=d.number, kind=d.kind, member_id=d.member_id,
                       period=period or d.number.split("-", 1)[1][:7], issued_on=d.issued_on,
                       total_eur=euros(d.total_cents), fees_eur=euros(d.fees_cents), corrects=d.corrects_id,
                       reason=d.reason, lines=[line_out(x) for x in lines or []])


def usage_out(g: GroupedUsage, counterpart: str) -> UsageLineOut:
    q = g.quantities
    return UsageLineOut(workload_id=g.workload_id, offering_id=g.offering_id, service_class=g.service_class,
                        counterpart_id=counterpart, own_use=g.borrower_id == g.lender_id,
                        hours=_q(Decimal(q.seconds) / HOUR), vcpu_hours=_q(q.vcpu_hours),
                        ram_gib_hours=_q(q.ram_gib_hours), disk_gib_months=_q(q.disk_gib_months),
                        gpu_hours=_q(q.gpu_hours), cpu_hours_used=_q(Decimal(g.cpu_time_ns) / HOUR / 10**9))


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000001"))

