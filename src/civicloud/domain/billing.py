"""Prices and money: price books, the rounding rule, invoice lines, and the settlement between members. Pure.

The rule, stated once and applied everywhere:

- a line's amount is Σ over its resources of (resource-seconds × unit price per
  hour ÷ 3,600), computed exactly in ``Decimal`` (28 significant digits), then
  rounded **once**, to the cent, half up — disk is priced per GiB-month, and a
  month is 730 hours (8,760 ÷ 12) whatever its length;
- the operator's fee on a line is its amount × the fee percentage, rounded the
  same way; the lender's credit is the amount minus the fee. So, exactly, for any
  usage: Σ borrowers' charges = Σ lenders' credits + Σ operator fees.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from civicloud.domain.catalogue import ServiceClass
from civicloud.domain.members import AgreementKind, MemberCategory
from civicloud.errors import InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)
HOURS_PER_MONTH = Decimal(730)
MIB_PER_GIB = Decimal(1024)


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_of(amount: Decimal) -> int:
    """An amount already rounded to the cent, as the integer cents the store keeps."""
    return int(amount.scaleb(2))


def euros(cents: int) -> Decimal:
    """Integer cents as euros, exactly, with their two places (10 cents is 0.10)."""
    return Decimal(cents).scaleb(-2)


@dataclass(frozen=True)
class Prices:
    """Unit prices in euros, excluding VAT."""

    vcpu_hour: Decimal = ZERO
    ram_gib_hour: Decimal = ZERO
    disk_gib_month: Decimal = ZERO
    gpu_hour: Decimal = ZERO
    desktop_month: Decimal = ZERO  # per virtual desktop and month (for the desktop offerings to come)
    ehealth_month: Decimal = ZERO  # per workload on an HDS site and month


@dataclass(frozen=True)
class PriceBook:
    """Prices for borrowers of one agreement kind and category, in one service class, from a date on.

    ``None`` in ``agreement_kind``, ``member_category`` or ``service_class`` means any. Among the books in
    force (``valid_from`` on or before the day), the most specific one applies, then the latest."""

    id: str
    name: str
    valid_from: date
    prices: Prices
    operator_fee_percent: Decimal = ZERO
    agreement_kind: AgreementKind | None = None
    member_category: MemberCategory | None = None
    service_class: ServiceClass | None = None
    created_at: datetime = field(kw_only=True, compare=False)  # when it was recorded (the unit of work's clock)

    def matches(self, kind: AgreementKind | None, category: MemberCategory, service_class: ServiceClass) -> bool:
        return ((self.agreement_kind is None or self.agreement_kind is kind)
                and (self.member_category is None or self.member_category is category)
                and (self.service_class is None or self.service_class is service_class))

    @property
    def specificity(self) -> int:
        return sum(x is not None for x in (self.agreement_kind, self.member_category, self.service_class))


def check_price_book(book: PriceBook) -> None:
    for name, value in vars(book.prices).items():
        if not (ZERO <= value <= Decimal(1_000_000)) or value != value.quantize(Decimal("0.000001")):
            raise InvalidInput(f"{name} must be between 0 and 1,000,000 € with at most 6 decimals, not {value}",
                               code="civicloud.price_book.invalid_price", field=name)
    if not ZERO <= book.operator_fee_percent <= Decimal(100):
        raise InvalidInput(f"the operator's fee is a percentage between 0 and 100, not {book.operator_fee_percent}",
                           code="civicloud.price_book.invalid_fee", field="operator_fee_percent")


def book_for(books: Sequence[PriceBook], day: date, kind: AgreementKind | None, category: MemberCategory,
             service_class: ServiceClass) -> PriceBook | None:
    """The price book in force on ``day`` for a borrower and a class, or None."""
    candidates = [b for b in books if b.valid_from <= day and b.matches(kind, category, service_class)]
    if not candidates:
        return None
    return max(candidates, key=lambda b: (b.specificity, b.valid_from, b.created_at, b.id))


@dataclass(frozen=True)
class Quantities:
    """Resource-seconds (as metered) of one line."""

    seconds: int = 0
    vcpu_seconds: int = 0
    memory_mib_seconds: int = 0
    disk_gib_seconds: int = 0
    gpu_seconds: int = 0

    def __add__(self, other: Quantities) -> Quantities:
        return Quantities(self.seconds + other.seconds, self.vcpu_seconds + other.vcpu_seconds,
                          self.memory_mib_seconds + other.memory_mib_seconds,
                          self.disk_gib_seconds + other.disk_gib_seconds, self.gpu_seconds + other.gpu_seconds)

    @property
    def vcpu_hours(self) -> Decimal:
        return Decimal(self.vcpu_seconds) / SECONDS_PER_HOUR

    @property
    def ram_gib_hours(self) -> Decimal:
        return Decimal(self.memory_mib_seconds) / MIB_PER_GIB / SECONDS_PER_HOUR

    @property
    def disk_gib_months(self) -> Decimal:
        return Decimal(self.disk_gib_seconds) / SECONDS_PER_HOUR / HOURS_PER_MONTH

    @property
    def gpu_hours(self) -> Decimal:
        return Decimal(self.gpu_seconds) / SECONDS_PER_HOUR

    @property
    def months(self) -> Decimal:
        return Decimal(self.seconds) / SECONDS_PER_HOUR / HOURS_PER_MONTH


def exact_amount(q: Quantities, p: Prices, *, ehealth: bool = False) -> Decimal:
    """Σ usage × price before rounding (the e-health month applies to workloads needing HDS hosting)."""
    amount = (Decimal(q.vcpu_seconds) * p.vcpu_hour + Decimal(q.memory_mib_seconds) * p.ram_gib_hour / MIB_PER_GIB
              + Decimal(q.gpu_seconds) * p.gpu_hour) / SECONDS_PER_HOUR \
        + Decimal(q.disk_gib_seconds) * p.disk_gib_month / SECONDS_PER_HOUR / HOURS_PER_MONTH
    if ehealth:
        amount += Decimal(q.seconds) * p.ehealth_month / SECONDS_PER_HOUR / HOURS_PER_MONTH
    return amount


@dataclass(frozen=True)
class Line:
    """What one borrower owes one lender for one workload under one price book, in one period."""

    borrower_id: str
    lender_id: str
    workload_id: str
    offering_id: str
    service_class: ServiceClass
    price_book_id: str
    quantities: Quantities
    amount: Decimal  # rounded once, to the cent, half up
    fee: Decimal  # the operator's part of the amount

    @property
    def credit(self) -> Decimal:
        return self.amount - self.fee


def price_line(borrower_id: str, lender_id: str, workload_id: str, offering_id: str, service_class: ServiceClass,
               book: PriceBook, q: Quantities, *, ehealth: bool = False) -> Line:
    amount = to_cents(exact_amount(q, book.prices, ehealth=ehealth))
    fee = to_cents(amount * book.operator_fee_percent / Decimal(100))
    return Line(borrower_id, lender_id, workload_id, offering_id, service_class, book.id, q, amount, fee)


@dataclass(frozen=True)
class Settlement:
    """Who pays whom, after netting: ``transfers[(payer, payee)]`` between members, and each member's fees
    to the federation's operator."""

    transfers: Mapping[tuple[str, str], Decimal]
    fees: Mapping[str, Decimal]

    def paid_by(self, member_id: str) -> Decimal:
        return sum((v for (p, _q), v in self.transfers.items() if p == member_id), ZERO) + \
            self.fees.get(member_id, ZERO)

    def received_by(self, member_id: str) -> Decimal:
        return sum((v for (_p, q), v in self.transfers.items() if q == member_id), ZERO)


def settle(lines: Iterable[Line]) -> Settlement:
    """Net the flows between each pair of members: if a owes b 100 and b owes a 30, a pays b 70. Fees are
    paid by the borrower to the operator and never netted (the operator is not a member)."""
    owed: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    fees: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        if line.borrower_id == line.lender_id:
            continue
        owed[(line.borrower_id, line.lender_id)] += line.credit
        fees[line.borrower_id] += line.fee
    transfers: dict[tuple[str, str], Decimal] = {}
    for a, b in sorted({tuple(sorted(pair)) for pair in owed}):
        net = owed.get((a, b), ZERO) - owed.get((b, a), ZERO)
        if net > 0:
            transfers[(a, b)] = net
        elif net < 0:
            transfers[(b, a)] = -net
    return Settlement(transfers, {m: f for m, f in fees.items() if f})


@dataclass(frozen=True)
class BillingRun:
    """The closing of one period (a Paris calendar month): its lines and documents never change afterwards."""

    id: str
    period: str  # "2026-09"
    created_at: datetime
    charged_cents: int
    fees_cents: int
    own_use_seconds: int  # lenders' use of their own hosts: metered, not billed


class DocumentKind(StrEnum):
    INVOICE = "invoice"  # to a borrower, for what it used of others' hosts
    STATEMENT = "statement"  # to a lender, for what it is owed
    CREDIT_NOTE = "credit_note"  # corrects an invoice: never an edit


@dataclass(frozen=True)
class Document:
    id: str
    run_id: str
    member_id: str
    kind: DocumentKind
    number: str  # "INV-2026-09-0001", "STM-…", "AVO-…"
    issued_on: date
    total_cents: int
    fees_cents: int
    corrects_id: str | None = None  # the invoice a credit note corrects
    reason: str = ""
