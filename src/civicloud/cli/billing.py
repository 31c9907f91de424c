"""Sub-commands of metering and billing: price-book, pricing, billing, invoice, usage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from civicloud.cli.common import DEFAULT_SERVER, ServerOpt, TokenOpt, client, console, friendly_errors, table
from civicloud.domain import AgreementKind, MemberCategory, ServiceClass
from civicloud.domain.pricing import CostInputs, cost_model, with_margin
from civicloud.errors import InvalidInput
from civicloud.wire import CreditNoteCreate, DocumentOut, PriceBookCreate, SettlementOut, UsageLineOut

price_book_app = typer.Typer(no_args_is_help=True, help="Prices per resource, per borrower kind and class.")
pricing_app = typer.Typer(no_args_is_help=True, help="Work out prices at cost.")
billing_app = typer.Typer(no_args_is_help=True, help="Bill a period; who pays whom.")
invoice_app = typer.Typer(no_args_is_help=True, help="A member's invoices, statements and credit notes.")
usage_app = typer.Typer(no_args_is_help=True, help="What a member borrowed and lent, from the usage records.")


def register(app: typer.Typer) -> None:
    app.add_typer(price_book_app, name="price-book")
    app.add_typer(pricing_app, name="pricing")
    app.add_typer(billing_app, name="billing")
    app.add_typer(invoice_app, name="invoice")
    app.add_typer(usage_app, name="usage")


Money = Annotated[Decimal, typer.Option(parser=Decimal, min=0)]


@price_book_app.command("add")
@friendly_errors
def price_book_add(
    name: str,
    valid_from: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day it applies (Paris)")],
    kind: Annotated[AgreementKind | None, typer.Option(help="only borrowers under this agreement kind")] = None,
    category: Annotated[MemberCategory | None, typer.Option(help="only borrowers of this category")] = None,
    service_class: Annotated[ServiceClass | None, typer.Option("--class", help="only this service class")] = None,
    vcpu_hour: Money = Decimal(0),
    ram_gib_hour: Money = Decimal(0),
    disk_gib_month: Money = Decimal(0),
    gpu_hour: Money = Decimal(0),
    ehealth_month: Money = Decimal(0),
    fee: Annotated[Decimal, typer.Option(parser=Decimal, help="the operator's fee, in percent")] = Decimal(0),
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Add a price book (euros excluding VAT); it applies from its date on, to the borrowers it names."""
    body = PriceBookCreate(name=name, valid_from=valid_from.date(), agreement_kind=kind, member_category=category,
                           service_class=service_class, vcpu_hour=vcpu_hour, ram_gib_hour=ram_gib_hour,
                           disk_gib_month=disk_gib_month, gpu_hour=gpu_hour, ehealth_month=ehealth_month,
                           operator_fee_percent=fee)
    with client(server, token) as api:
        book = api.add_price_book(body)
    console.print(f"price book [bold]{book.name}[/] from {book.valid_from}: {book.id}")


@price_book_app.command("list")
@friendly_errors
def price_book_list(server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """List the price books, oldest first."""
    with client(server, token) as api:
        books = api.list_price_books()
    rows = [(b.name, b.valid_from, b.agreement_kind.value if b.agreement_kind else "any",
             b.member_category.value if b.member_category else "any",
             b.service_class.value if b.service_class else "any", b.vcpu_hour, b.ram_gib_hour, b.disk_gib_month,
             f"{b.operator_fee_percent} %") for b in books]
    console.print(table("Price books (€ excl. VAT)", ["name", "from", "agreement", "category", "class",
                                                       "vCPU·h", "GiB RAM·h", "GiB disk·month", "fee"], rows))


@pricing_app.command("cost-model")
@friendly_errors
def pricing_cost_model(
    hardware_eur: Annotated[Decimal, typer.Option(parser=Decimal, help="purchase price of the hosts")],
    power_watts: Annotated[Decimal, typer.Option(parser=Decimal, help="average draw, cooling included")],
    vcpus: Annotated[Decimal, typer.Option(parser=Decimal, help="vCPUs sold: cores × allocation ratio")],
    memory_gib: Annotated[Decimal, typer.Option(parser=Decimal)],
    disk_gib: Annotated[Decimal, typer.Option(parser=Decimal)],
    years: Annotated[Decimal, typer.Option(parser=Decimal, help="amortisation period")] = Decimal(5),
    eur_per_kwh: Annotated[Decimal, typer.Option(parser=Decimal)] = Decimal("0.20"),
    staff_eur_per_year: Annotated[Decimal, typer.Option(parser=Decimal)] = Decimal(0),
    other_eur_per_year: Annotated[Decimal, typer.Option(parser=Decimal, help="licences, support, room")] = Decimal(0),
    utilisation: Annotated[Decimal, typer.Option(parser=Decimal, help="share expected to be used")] = Decimal("0.7"),
    margin: Annotated[Decimal, typer.Option(parser=Decimal, help="percent above cost (PPP partners)")] = Decimal(0),
) -> None:
    """Unit prices at cost from a lender's hardware, energy and staff (no server needed)."""
    result = cost_model(CostInputs(hardware_eur, years, power_watts, eur_per_kwh, staff_eur_per_year,
                                   other_eur_per_year, vcpus, memory_gib, disk_gib, utilisation))
    prices = with_margin(result.prices, margin)
    rows = [("yearly cost", f"{result.yearly_eur:.2f} €"),
            ("hourly cost at that utilisation", f"{result.hourly_eur:.4f} €"),
            ("vCPU-hour", f"{prices.vcpu_hour} €"), ("GiB RAM-hour", f"{prices.ram_gib_hour} €"),
            ("GiB disk-month", f"{prices.disk_gib_month} €")]
    console.print(table(f"At cost{f' + {margin} %' if margin else ''} (weights: vCPU 50 %, memory 40 %, disk 10 %)",
                        ["", ""], rows))
    console.print(f"civicloud price-book add NAME --valid-from YYYY-MM-DD --vcpu-hour {prices.vcpu_hour} "
                  f"--ram-gib-hour {prices.ram_gib_hour} --disk-gib-month {prices.disk_gib_month}", highlight=False)


@billing_app.command("run")
@friendly_errors
def billing_run(period: Annotated[str, typer.Option(help="the month to bill, YYYY-MM")],
                server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Bill a month: invoices, statements and the settlement. Running it again changes nothing."""
    with client(server, token) as api:
        run = api.run_billing(period)
        names = {m.id: m.name for m in api.list_members()}
        settlement = api.settlement(period)
    console.print(f"period {run.period}: {run.charged_eur} € charged, {run.fees_eur} € operator fees, "
                  f"{run.credited_eur} € to lenders; own use {run.own_use_hours:.1f} h (not billed)")
    _show_settlement(settlement, names)


@billing_app.command("export")
@friendly_errors
def billing_export(period: Annotated[str, typer.Option(help="a billed month, YYYY-MM")],
                   output: Annotated[Path, typer.Option(help="CSV file to write")],
                   server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Every line of a billed month as CSV (both parties' SIRET, quantities, amounts, fees, credits)."""
    with client(server, token) as api:
        text = api.period_csv(period)
    output.write_text(text, encoding="utf-8")
    console.print(f"period {period} written to {output} ({text.count(chr(10)) - 1} lines)")


@billing_app.command("settlement")
@friendly_errors
def billing_settlement(period: Annotated[str, typer.Option(help="a billed month, YYYY-MM")],
                       server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Who pays whom for a billed month, after netting."""
    with client(server, token) as api:
        names = {m.id: m.name for m in api.list_members()}
        _show_settlement(api.settlement(period), names)


def _show_settlement(s: SettlementOut, names: dict[str, str]) -> None:
    rows = [(names.get(t.payer_id, t.payer_id), names.get(t.payee_id, t.payee_id), f"{t.amount_eur} €")
            for t in s.transfers]
    rows += [(names.get(t.payer_id, t.payer_id), "the operator (fees)", f"{t.amount_eur} €") for t in s.operator_fees]
    console.print(table(f"Settlement {s.period}", ["pays", "to", "amount"], rows))


@invoice_app.command("list")
@friendly_errors
def invoice_list(member: Annotated[str, typer.Option(help="member id or name")],
                 server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """A member's invoices, credit notes and statements."""
    with client(server, token) as api:
        docs = api.invoices(member) + api.statements(member)
    rows = [(d.number, d.kind, d.period, d.issued_on, f"{d.total_eur} €", f"{d.fees_eur} €") for d in docs]
    console.print(table(f"Billing documents of {member}", ["number", "kind", "period", "issued", "total",
                                                           "operator fee"], rows))


@invoice_app.command("show")
@friendly_errors
def invoice_show(number: str, member: Annotated[str, typer.Option(help="member id or name")],
                 server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """One invoice or statement with its lines."""
    with client(server, token) as api:
        doc = api.invoice(member, number)
        names = {m.id: m.name for m in api.list_members()} | {o.id: o.name for o in api.list_offerings()}
    _show_document(doc, names)


def _show_document(d: DocumentOut, names: dict[str, str]) -> None:
    other = "lender" if d.kind == "invoice" else "borrower"
    rows = [(line.workload_id, names.get(line.offering_id, line.offering_id), line.service_class.value,
             names.get(line.lender_id if d.kind == "invoice" else line.borrower_id, ""),
             f"{line.vcpu_hours:.2f}", f"{line.ram_gib_hours:.2f}", f"{line.disk_gib_months:.4f}",
             f"{line.amount_eur} €", f"{line.operator_fee_eur} €") for line in d.lines]
    console.print(table(f"{d.kind} {d.number} — {d.period} — total {d.total_eur} €",
                        ["workload", "offering", "class", other, "vCPU·h", "GiB RAM·h", "GiB disk·month", "amount",
                         "fee"], rows))


@invoice_app.command("export")
@friendly_errors
def invoice_export(number: str, member: Annotated[str, typer.Option(help="member id or name")],
                   output: Annotated[Path, typer.Option(help="file to write")],
                   server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Write an invoice or statement as CSV (--output NAME.csv), or an invoice as Factur-X (--output NAME.pdf)."""
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".pdf"):
        raise InvalidInput("give --output NAME.csv (any document) or NAME.pdf (Factur-X, invoices and credit notes)",
                           code="civicloud.cli.invalid_format", field="output")
    with client(server, token) as api:
        if suffix == ".pdf":
            data = api.invoice_pdf(member, number)
            output.write_bytes(data)
            console.print(f"{number} written to {output} (Factur-X, {len(data):,} bytes)")
            return
        text = api.invoice_csv(member, number)
    output.write_text(text, encoding="utf-8")
    console.print(f"{number} written to {output} ({text.count(chr(10)) - 1} lines)")


@invoice_app.command("credit")
@friendly_errors
def invoice_credit(number: str, amount: Annotated[Decimal, typer.Option(parser=Decimal, help="euros")],
                   reason: Annotated[str, typer.Option(help="why: it is printed on the credit note")],
                   server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Correct an invoice with a credit note (an invoice is never edited)."""
    with client(server, token) as api:
        note = api.credit_note(number, CreditNoteCreate(amount_eur=amount, reason=reason))
    console.print(f"credit note {note.number}: {note.total_eur} € on {number}")


@usage_app.command("show")
@friendly_errors
def usage_show(member: Annotated[str, typer.Option(help="member id or name")],
               start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"],
                                                       help="UTC")],
               end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"], help="UTC")],
               server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """What a member borrowed and lent between two instants, per workload."""
    with client(server, token) as api:
        usage = api.usage(member, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
        names = {m.id: m.name for m in api.list_members()} | {o.id: o.name for o in api.list_offerings()}
    for title, lines in (("borrowed", usage.borrowed), ("lent", usage.lent)):
        console.print(table(f"{member} {title}, {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC",
                            ["workload", "offering", "class", "from" if title == "borrowed" else "to", "hours",
                             "vCPU·h", "GiB RAM·h", "CPU h used"], [_usage_row(u, names) for u in lines]))


def _usage_row(u: UsageLineOut, names: dict[str, str]) -> tuple[str, ...]:
    counterpart = "own use" if u.own_use else names.get(u.counterpart_id, u.counterpart_id)
    return (u.workload_id, names.get(u.offering_id, u.offering_id), u.service_class.value, counterpart,
            f"{u.hours:.1f}", f"{u.vcpu_hours:.1f}", f"{u.ram_gib_hours:.1f}", f"{u.cpu_hours_used:.2f}")



@usage_app.command("showback")
@friendly_errors
def usage_showback(member: Annotated[str, typer.Option(help="member id or name")],
                   period: Annotated[str, typer.Option(help="a month, YYYY-MM")],
                   server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """A member's month: usage by class, cost, what going alone would cost, energy and CO₂."""
    with client(server, token) as api:
        s = api.showback(member, period)
    rows = [(u.service_class, f"{u.hours:.1f}", f"{u.vcpu_hours:.1f}", f"{u.ram_gib_hours:.1f}",
             f"{u.disk_gib_months:.2f}") for u in s.borrowed]
    console.print(table(f"{member}, {s.period}: borrowed from other members", ["class", "hours", "vCPU·h",
                                                                              "GiB RAM·h", "GiB disk·month"], rows))
    alone = "no price book applies" if s.going_alone_eur is None else f"{s.going_alone_eur} €"
    facts = [("cost", f"{s.cost_eur} € ({'invoiced' if s.billed else 'so far, not billed yet'})"),
             ("going alone (its peak, all period, at cost)", alone),
             ("peak", f"{s.peak_vcpus:.1f} vCPU, {s.peak_memory_gib:.1f} GiB RAM, {s.peak_disk_gib:.0f} GiB disk"),
             ("own use (not billed)", f"{s.own_use_hours:.1f} h"), ("energy", f"{s.energy_kwh} kWh"),
             ("CO₂", f"{s.co2_kg} kg")]
    console.print(table("Showback", ["", ""], facts))
