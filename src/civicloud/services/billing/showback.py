"""A member's usage over a range, and its showback: cost, going alone, energy and CO₂."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from civicloud.domain import (
    Member,
    ServiceClass,
    Site,
)
from civicloud.domain.billing import (
    Quantities,
    book_for,
    euros,
)
from civicloud.domain.metering import floor_hour
from civicloud.domain.periods import BILLING_TZ, period_bounds
from civicloud.domain.showback import (
    Footprint,
    Peak,
    PowerModel,
    by_class,
    footprint,
    going_alone,
    peak,
)
from civicloud.errors import InvalidInput
from civicloud.services._common import UowFactory
from civicloud.services.access import Caller, operation
from civicloud.services.billing.runs import _agreement_kinds, _price_period
from civicloud.services.members import require_member
from civicloud.services.metering import roll_up
from civicloud.store.repositories import GroupedUsage


@operation("usage.get")
def member_usage(uow_factory: UowFactory, caller: Caller, member_id: str, start: datetime, end: datetime,
                 now: datetime | None = None) -> tuple[Member, list[GroupedUsage], list[GroupedUsage]]:
    """(member, what it borrowed, what it lent) over [start, end), from the usage records (rolled up first)."""
    if end <= start:
        raise InvalidInput("the end of a usage range comes after its start", code="civicloud.usage.invalid_range",
                           field="to")
    roll_up(uow_factory, now or uow_factory().clock())
    with uow_factory() as uow:
        member = require_member(uow, member_id)
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


@operation("usage.showback")
def showback(uow_factory: UowFactory, caller: Caller, member_id: str, period: str, default_carbon_g_per_kwh: float,
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
        member = require_member(uow, member_id)
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
