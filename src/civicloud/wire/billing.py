"""Models of metering and billing: price books, runs, invoices and statements, settlement, usage, cost model."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from civicloud.domain import AgreementKind, MemberCategory, ServiceClass
from civicloud.wire.common import In, Name, Out, Text

# Unit prices in euros, excluding VAT: at most a million, to the micro-euro.
Price = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=6, max_digits=13)]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="a calendar month, YYYY-MM",
                              examples=["2026-11"])]


class PriceBookCreate(In):
    name: Name
    valid_from: date = Field(description="the first day (Paris time) it applies to")
    agreement_kind: AgreementKind | None = Field(default=None, description="unset: any agreement")
    member_category: MemberCategory | None = Field(default=None, description="unset: any category of borrower")
    service_class: ServiceClass | None = Field(default=None, description="unset: both classes")
    vcpu_hour: Price = Decimal(0)
    ram_gib_hour: Price = Decimal(0)
    disk_gib_month: Price = Decimal(0)
    gpu_hour: Price = Decimal(0)
    desktop_month: Price = Decimal(0)
    ehealth_month: Price = Field(default=Decimal(0), description="per workload needing HDS hosting, per month")
    operator_fee_percent: Annotated[Decimal, Field(ge=0, le=100, decimal_places=4, max_digits=7)] = Decimal(0)


class PriceBookOut(Out):
    id: str
    name: str
    valid_from: date
    agreement_kind: AgreementKind | None
    member_category: MemberCategory | None
    service_class: ServiceClass | None
    vcpu_hour: Decimal
    ram_gib_hour: Decimal
    disk_gib_month: Decimal
    gpu_hour: Decimal
    desktop_month: Decimal
    ehealth_month: Decimal
    operator_fee_percent: Decimal


class BillingRunCreate(In):
    period: Period


class BillingRunOut(Out):
    id: str
    period: str
    created_at: datetime
    charged_eur: Decimal = Field(description="what borrowers owe, all invoices together")
    fees_eur: Decimal = Field(description="the operator's part of it")
    credited_eur: Decimal = Field(description="what lenders receive: charged − fees")
    own_use_hours: Decimal = Field(description="lenders' use of their own hosts: metered, not billed")


class BillingLineOut(Out):
    borrower_id: str
    lender_id: str
    workload_id: str
    offering_id: str
    service_class: ServiceClass
    price_book_id: str
    vcpu_hours: Decimal
    ram_gib_hours: Decimal
    disk_gib_months: Decimal
    gpu_hours: Decimal
    amount_eur: Decimal
    operator_fee_eur: Decimal
    lender_credit_eur: Decimal


class DocumentOut(Out):
    id: str
    number: str
    kind: str = Field(description="invoice (what the member borrowed), statement (what it lent, minus the "
                                  "operator's fee) or credit_note (a correction of an invoice)")
    member_id: str
    period: str
    issued_on: date
    total_eur: Decimal
    fees_eur: Decimal
    corrects: str | None = None
    reason: str = ""
    lines: list[BillingLineOut] = Field(default_factory=list)


class CreditNoteCreate(In):
    amount_eur: Annotated[Decimal, Field(gt=0, le=100_000_000, decimal_places=2)]
    reason: Text = Field(min_length=1)


class TransferOut(Out):
    payer_id: str
    payee_id: str
    amount_eur: Decimal


class MemberBalanceOut(Out):
    member_id: str
    pays_eur: Decimal = Field(description="to other members and, as fees, to the operator")
    receives_eur: Decimal


class SettlementOut(Out):
    period: str
    transfers: list[TransferOut] = Field(description="after netting: at most one transfer per pair of members")
    operator_fees: list[TransferOut] = Field(description="what each member pays the operator")
    balances: list[MemberBalanceOut]


class UsageLineOut(Out):
    workload_id: str
    offering_id: str
    service_class: ServiceClass
    counterpart_id: str = Field(description="the lender (borrowed) or the borrower (lent)")
    own_use: bool
    hours: Decimal
    vcpu_hours: Decimal
    ram_gib_hours: Decimal
    disk_gib_months: Decimal
    gpu_hours: Decimal
    cpu_hours_used: Decimal = Field(description="measured by the agents' samples")


class MemberUsageOut(Out):
    member_id: str
    start: datetime
    end: datetime
    borrowed: list[UsageLineOut]
    lent: list[UsageLineOut]


class CostModelIn(In):
    hardware_eur: Annotated[Decimal, Field(ge=0, le=1_000_000_000)]
    amortisation_years: Annotated[Decimal, Field(gt=0, le=50)] = Decimal(5)
    power_watts: Annotated[Decimal, Field(ge=0, le=10_000_000)]
    eur_per_kwh: Annotated[Decimal, Field(ge=0, le=100)] = Decimal("0.20")
    staff_eur_per_year: Annotated[Decimal, Field(ge=0, le=1_000_000_000)] = Decimal(0)
    other_eur_per_year: Annotated[Decimal, Field(ge=0, le=1_000_000_000)] = Decimal(0)
    vcpus: Annotated[Decimal, Field(gt=0, le=10_000_000)]
    memory_gib: Annotated[Decimal, Field(gt=0, le=1_000_000_000)]
    disk_gib: Annotated[Decimal, Field(gt=0, le=1_000_000_000)]
    utilisation: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.7")
    margin_percent: Annotated[Decimal, Field(ge=0, le=1000)] = Decimal(0)


class CostModelOut(Out):
    yearly_eur: Decimal
    hourly_eur: Decimal
    vcpu_hour: Decimal
    ram_gib_hour: Decimal
    disk_gib_month: Decimal


class ClassUsageOut(Out):
    service_class: str
    hours: Decimal
    vcpu_hours: Decimal
    ram_gib_hours: Decimal
    disk_gib_months: Decimal


class ShowbackOut(Out):
    member_id: str
    period: str
    start: datetime
    end: datetime = Field(description="the period's end, or the last whole hour if it is not over")
    borrowed: list[ClassUsageOut] = Field(description="from other members, per service class")
    own_use_hours: Decimal = Field(description="workload-hours on its own hosts: metered, not billed")
    cost_eur: Decimal = Field(description="invoiced, credit notes deducted, when the period is billed; else priced "
                                          "so far")
    billed: bool
    going_alone_eur: Decimal | None = Field(description="its peak, on hardware of its own kept all period, at "
                                                        "its price book's unit prices; unset: no book applies")
    peak_vcpus: Decimal
    peak_memory_gib: Decimal
    peak_disk_gib: Decimal
    energy_kwh: Decimal = Field(description="from each host's linear power model and the measured CPU time")
    co2_kg: Decimal = Field(description="energy × each site's grid intensity (gCO₂/kWh)")
