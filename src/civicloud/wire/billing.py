"""Models of metering and billing: price books, runs, invoices and statements, settlement, usage, cost model."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from civicloud.domain import AgreementKind, MemberCategory, ServiceClass
from civicloud.domain.pricing import COST_INPUT_BOUNDS as BOUNDS
from civicloud.wire.common import DAY_RANGE, Day, DecimalText, In, Name, Out, Period, Text

# Unit prices in euros, excluding VAT: at most a million, to the micro-euro.
Price = Annotated[Decimal, DecimalText(0, 1_000_000, 6, "euros excluding VAT")]


class PriceBookCreate(In):
    name: Name
    valid_from: Day = Field(description=f"the first day (Paris time) it applies to: {DAY_RANGE}")
    agreement_kind: AgreementKind | None = Field(default=None, description="unset: any agreement")
    member_category: MemberCategory | None = Field(default=None, description="unset: any category of borrower")
    service_class: ServiceClass | None = Field(default=None, description="unset: both classes")
    vcpu_hour: Price = Decimal(0)
    ram_gib_hour: Price = Decimal(0)
    disk_gib_month: Price = Decimal(0)
    gpu_hour: Price = Decimal(0)
    desktop_month: Price = Decimal(0)
    ehealth_month: Price = Field(default=Decimal(0), description="per workload needing HDS hosting, per month")
    operator_fee_percent: Annotated[Decimal, DecimalText(0, 100, 4, "percent of each line")] = Decimal(0)


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
    amount_eur: Annotated[Decimal, DecimalText("0.01", 100_000_000, 2, "euros")]
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
    """The divisors (years, capacities, utilisation) have lower bounds that keep the arithmetic finite:
    ``domain.pricing.COST_INPUT_BOUNDS``, which ``domain.pricing.cost_model`` checks too."""

    hardware_eur: Annotated[Decimal, DecimalText(*BOUNDS["hardware_eur"], 2, "purchase price of the hosts")]
    amortisation_years: Annotated[Decimal, DecimalText(*BOUNDS["amortisation_years"], 2)] = Decimal(5)
    power_watts: Annotated[Decimal, DecimalText(*BOUNDS["power_watts"], 3, "average draw, cooling included")]
    eur_per_kwh: Annotated[Decimal, DecimalText(*BOUNDS["eur_per_kwh"], 6)] = Decimal("0.20")
    staff_eur_per_year: Annotated[Decimal, DecimalText(*BOUNDS["staff_eur_per_year"], 2)] = Decimal(0)
    other_eur_per_year: Annotated[Decimal, DecimalText(*BOUNDS["other_eur_per_year"], 2)] = Decimal(0)
    vcpus: Annotated[Decimal, DecimalText(*BOUNDS["vcpus"], 2, "vCPUs sold: cores × allocation ratio")]
    memory_gib: Annotated[Decimal, DecimalText(*BOUNDS["memory_gib"], 3)]
    disk_gib: Annotated[Decimal, DecimalText(*BOUNDS["disk_gib"], 3)]
    utilisation: Annotated[Decimal, DecimalText(*BOUNDS["utilisation"], 4, "share of the capacity used")] = \
        Decimal("0.7")
    margin_percent: Annotated[Decimal, DecimalText(*BOUNDS["margin_percent"], 4, "percent above cost")] = Decimal(0)


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
