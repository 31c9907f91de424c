"""Billing benchmark: a year of hourly usage for 1,000 workloads across 40 members, ingested then billed.

    .venv/bin/python bench/billing.py [--workloads 1000] [--members 40] [--days 365] [--db both|postgres|sqlite]

For each database (a throw-away database on the local PostgreSQL, and a SQLite file):

- the federation: 40 members (communes, hospitals and start-ups; every other one lends from a site with a
  host), each with an agreement; two price books (public bodies at cost, PPP partners at cost + 25 %,
  2 % operator fee); 1,000 workloads of the 40 members, each held all year on another member's host;
- **ingestion**: the usage records of the year (1,000 × 8,760 = 8.76 M), made day by day with
  ``domain.metering.records_for`` (the roll-up's own code) and written with the roll-up's repository
  method (``UsageRecordRepository.add_many``: COPY into a staging table then INSERT … ON CONFLICT DO
  NOTHING on PostgreSQL, INSERT OR IGNORE on SQLite). ``ingest_records_per_s`` counts the store's time
  only; making the records is timed apart (``make_records_per_s``);
- **billing**: ``services.billing.run_billing`` for each of the 12 months (invoices, statements,
  settlement). ``billing_run_s`` is the slowest month; ``billing_year_s`` all twelve.

Prints a table and writes bench/results/billing.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from civicloud.clock import random_ids as new_id  # noqa: E402
from civicloud.domain import (  # noqa: E402
    Agreement,
    AgreementKind,
    Allocation,
    DesiredPower,
    Member,
    MemberCategory,
    Offer,
    Offering,
    Resources,
    ServiceClass,
    Site,
    Workload,
    WorkloadState,
)
from civicloud.domain.billing import PriceBook, Prices  # noqa: E402
from civicloud.domain.metering import HeldAllocation, records_for  # noqa: E402
from civicloud.services.billing import period_bounds, run_billing  # noqa: E402
from civicloud.store import SqlUnitOfWork, make_engine, upgrade  # noqa: E402

from claim_path import ADMIN_URL  # noqa: E402
from peer_placement import postgres_database  # noqa: E402
from report import publish  # noqa: E402

YEAR = 2025
START = datetime(YEAR - 1, 12, 31, 23, tzinfo=UTC)  # 1 January, Paris midnight
SIRENS = ["219300290", "219300084", "269300612", "912345675", "217500016", "213105554", "210100012"]


def federation(engine, n_members: int, n_workloads: int) -> list[HeldAllocation]:  # type: ignore[no-untyped-def]
    """Members, sites, hosts, agreements, price books, workloads and their year-long allocations."""
    made = datetime(YEAR - 1, 12, 1, tzinfo=UTC)
    categories = [MemberCategory.COMMUNE, MemberCategory.HOSPITAL, MemberCategory.STARTUP, MemberCategory.EPCI]
    held = []
    with SqlUnitOfWork(engine) as uow:
        members = []
        for i in range(n_members):
            category = categories[i % len(categories)]
            m = Member(new_id(), f"member-{i:02d}", SIRENS[i % len(SIRENS)], None, category, made)
            uow.members.add(m)
            kind = AgreementKind.PPP if category is MemberCategory.STARTUP else AgreementKind.MUTUALISATION_CONVENTION
            uow.agreements.add(Agreement(new_id(), m.id, kind, date(YEAR - 1, 1, 1), None))
            members.append(m)
        lenders = []
        for i, m in enumerate(members[::2]):
            site = Site(new_id(), m.id, f"site-{i:02d}", "93029", "Europe/Paris", (), made)
            uow.sites.add(site, cert_ids=[])
            uow.offers.set(new_id(), site.id, None, Offer(default_percent=100), made)
            host_id = uow.hosts.report(site.id, f"hv-{i:02d}", "test:///default", Resources(512, 2 << 20, 100_000),
                                       Resources(), made, new_id())
            lenders.append((m.id, site.id, host_id))
        small = Offering(new_id(), "vm.small", "", Resources(2, 4096, 20), ServiceClass.HARVEST)
        uow.offerings.add(small)
        public = Prices(vcpu_hour=Decimal("0.005"), ram_gib_hour=Decimal("0.001"), disk_gib_month=Decimal("0.02"))
        ppp = Prices(vcpu_hour=Decimal("0.00625"), ram_gib_hour=Decimal("0.00125"), disk_gib_month=Decimal("0.025"))
        uow.price_books.add(PriceBook(new_id(), "public at cost", date(YEAR - 1, 1, 1), public, Decimal(2),
                                      AgreementKind.MUTUALISATION_CONVENTION, created_at=uow.clock()))
        uow.price_books.add(PriceBook(new_id(), "PPP at cost + 25 %", date(YEAR - 1, 1, 1), ppp, Decimal(2),
                                      AgreementKind.PPP, created_at=uow.clock()))
        for i in range(n_workloads):
            borrower = members[i % n_members]
            lender_id, site_id, host_id = next(x for k, x in enumerate(lenders[i % len(lenders):] + lenders)
                                               if x[0] != borrower.id)
            w = Workload(new_id(), borrower.id, small.id, f"w{i:04d}", WorkloadState.RUNNING, DesiredPower.RUNNING,
                         host_id, "", made, made)
            uow.workloads.add(w)
            a = Allocation(new_id(), w.id, host_id, small.resources, START, None, ServiceClass.HARVEST)
            uow.allocations.add(a)
            held.append(HeldAllocation(a.id, w.id, borrower.id, lender_id, site_id, host_id, small.id,
                                       ServiceClass.HARVEST, small.resources, START, None))
        uow.commit()
    return held


def bench_one(url: str, label: str, n_members: int, n_workloads: int, days: int) -> dict[str, object]:
    engine = make_engine(url)
    upgrade(engine)
    held = federation(engine, n_members, n_workloads)
    end = START + timedelta(days=days)
    with SqlUnitOfWork(engine) as uow:  # the records come from here, not from a roll-up of the same hours
        uow.usage_records.advance(None, end)
        uow.commit()
    made_s = store_s = 0.0
    records = 0
    day = START
    while day < end:
        t0 = time.perf_counter()
        batch = records_for(held, [], day, day + timedelta(days=1))
        t1 = time.perf_counter()
        with SqlUnitOfWork(engine) as uow:
            uow.usage_records.add_many(batch)
            uow.commit()
        t2 = time.perf_counter()
        made_s += t1 - t0
        store_s += t2 - t1
        records += len(batch)
        day += timedelta(days=1)
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13) if period_bounds(f"{YEAR}-{m:02d}")[1] <= end]
    runs = []
    charged = 0
    for period in months:
        t0 = time.perf_counter()
        run, created = run_billing(lambda: SqlUnitOfWork(engine), period, now=end + timedelta(days=1))
        runs.append(time.perf_counter() - t0)
        assert created
        charged += run.charged_cents
    with SqlUnitOfWork(engine) as uow:
        stored = uow.usage_records.count()
        documents = len(uow.billing.documents())
    engine.dispose()
    if stored != records:
        raise SystemExit(f"{label}: {records} records made but {stored} stored")
    return {f"{label}_records": records, f"{label}_ingest_records_per_s": round(records / store_s),
            f"{label}_make_records_per_s": round(records / made_s), f"{label}_ingest_s": round(store_s, 1),
            f"{label}_billing_run_s": round(max(runs), 2) if runs else None,
            f"{label}_billing_year_s": round(sum(runs), 2), f"{label}_billed_months": len(runs),
            f"{label}_documents": documents, f"{label}_charged_eur": f"{charged / 100:.2f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--db", choices=["both", "postgres", "sqlite"], default="both")
    args = parser.parse_args()
    result: dict[str, object] = {"workloads": args.workloads, "members": args.members, "days": args.days,
                                 "records": args.workloads * args.days * 24}
    if args.db in ("both", "postgres"):
        try:
            with postgres_database("postgresql+psycopg", "civicloud_bench_billing") as url:
                pg = bench_one(url, "postgres", args.members, args.workloads, args.days)
        except Exception as exc:  # noqa: BLE001 - reported, not hidden
            if "OperationalError" not in type(exc).__name__:
                raise
            pg = {"postgres_skipped": f"PostgreSQL unreachable at {ADMIN_URL}: {type(exc).__name__}"}
        result.update(pg)
        if "postgres_ingest_records_per_s" in pg:
            result["ingest_records_per_s"] = pg["postgres_ingest_records_per_s"]
            result["billing_run_s"] = pg["postgres_billing_run_s"]
    if args.db in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            result.update(bench_one(f"sqlite:///{tmp}/billing.db", "sqlite", args.members, args.workloads, args.days))
    publish("billing", result)


if __name__ == "__main__":
    main()
