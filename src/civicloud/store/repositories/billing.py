"""Metering and billing: usage records, the roll-up watermark, price books, billing runs and documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from civicloud.domain import Resources, ServiceClass, UsageSample
from civicloud.domain.billing import (
    BillingRun,
    Document,
    DocumentKind,
    Line,
    PriceBook,
    Prices,
    Quantities,
    cents_of,
    euros,
)
from civicloud.domain.members import AgreementKind, MemberCategory
from civicloud.domain.metering import HeldAllocation, UsageRecord
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

R = t.usage_records.c
A = t.allocations.c
P = t.price_books.c
D = t.billing_documents.c
L = t.billing_lines.c
PRICE_FIELDS = ("vcpu_hour", "ram_gib_hour", "disk_gib_month", "gpu_hour", "desktop_month", "ehealth_month")
QUANTITY_FIELDS = ("seconds", "vcpu_seconds", "memory_mib_seconds", "disk_gib_seconds", "gpu_seconds")
RECORD_COLUMNS = tuple(t.usage_records.c.keys())
COPY_THRESHOLD = 2000  # records from which PostgreSQL gets them by COPY
# How far back a roll-up looks for the sample before an hour (CPU counters are cumulative).
SAMPLE_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class GroupedUsage:
    """Usage records of one (borrower, lender, workload, offering, class), summed over a time range."""

    borrower_id: str
    lender_id: str
    workload_id: str
    offering_id: str
    service_class: ServiceClass
    quantities: Quantities
    cpu_time_ns: int
    site_id: str = ""


class UsageRecordRepository(Repo):
    def add_many(self, records: list[UsageRecord]) -> None:
        """Append records; one whose id is already stored (an hour rolled up twice) is left as it is.

        On PostgreSQL a large batch goes through COPY into a temporary table, then one INSERT … SELECT … ON
        CONFLICT DO NOTHING: several times the rate of multi-row INSERTs, and still idempotent."""
        if not records:
            return
        if self._conn.dialect.name == "postgresql" and len(records) >= COPY_THRESHOLD:
            self._copy(records)
            return
        rows = [{**{c: getattr(r, c) for c in RECORD_COLUMNS if c != "service_class"},
                 "service_class": r.service_class.value} for r in records]
        ins = postgresql.insert(t.usage_records) if self._conn.dialect.name == "postgresql" \
            else sqlite.insert(t.usage_records)
        self._conn.execute(ins.on_conflict_do_nothing(index_elements=["id"]), rows)

    def _copy(self, records: list[UsageRecord]) -> None:
        columns = ", ".join(RECORD_COLUMNS)
        driver = self._conn.connection.driver_connection  # psycopg's connection, inside our transaction
        with driver.cursor() as cur:  # type: ignore[union-attr]
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS usage_records_in "
                        "(LIKE usage_records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            with cur.copy(f"COPY usage_records_in ({columns}) FROM STDIN") as copy:
                for r in records:
                    copy.write_row([r.hour.astimezone(UTC).replace(tzinfo=None) if c == "hour"
                                    else r.service_class.value if c == "service_class" else getattr(r, c)
                                    for c in RECORD_COLUMNS])
            cur.execute(f"INSERT INTO usage_records ({columns}) SELECT {columns} FROM usage_records_in "
                        "ON CONFLICT (id) DO NOTHING")
            cur.execute("DELETE FROM usage_records_in")

    def rolled_up_until(self) -> datetime | None:
        row = self._one(select(t.metering_state.c.rolled_up_until).where(t.metering_state.c.id == 1))
        return row[0] if row else None

    def advance(self, seen: datetime | None, until: datetime) -> bool:
        """Move the watermark from ``seen`` to ``until`` (compare-and-swap: one replica rolls an hour up)."""
        if seen is None:  # the first roll-up: two replicas may both try, one row is made
            dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
            made = self._conn.execute(dialect.insert(t.metering_state).values(id=1, rolled_up_until=until)
                                      .on_conflict_do_nothing(index_elements=["id"])
                                      .returning(t.metering_state.c.id))
            return made.first() is not None
        result = self._conn.execute(update(t.metering_state).where(and_(
            t.metering_state.c.id == 1, t.metering_state.c.rolled_up_until == seen)).values(rolled_up_until=until))
        return result.rowcount == 1

    def first_allocation_at(self) -> datetime | None:
        return self._conn.execute(select(func.min(A.created_at))).scalar_one()

    def held_between(self, start: datetime, end: datetime) -> list[HeldAllocation]:
        """Allocations held at some moment of [start, end), with their borrower and lender."""
        W, H, S = t.workloads.c, t.hosts.c, t.sites.c
        stmt = (select(A.id, A.workload_id, W.member_id, S.member_id.label("lender_id"), H.site_id, A.host_id,
                       W.offering_id, A.service_class, A.vcpus, A.memory_mib, A.disk_gib, A.gpus, A.created_at,
                       A.released_at)
                .select_from(t.allocations.join(t.workloads, A.workload_id == W.id)
                             .join(t.hosts, A.host_id == H.id).join(t.sites, H.site_id == S.id))
                .where(and_(A.created_at < end, or_(A.released_at.is_(None), A.released_at > start)))
                .order_by(A.created_at, A.id))
        return [HeldAllocation(r.id, r.workload_id, r.member_id, r.lender_id, r.site_id, r.host_id, r.offering_id,
                               ServiceClass(r.service_class), Resources(r.vcpus, r.memory_mib, r.disk_gib, r.gpus),
                               r.created_at, r.released_at) for r in self._conn.execute(stmt)]

    def samples_between(self, start: datetime, end: datetime) -> list[UsageSample]:
        """Agents' samples of [start − a day, end): each hour's CPU time needs the sample before it."""
        U = t.usage_samples.c
        stmt = select(t.usage_samples).where(and_(U.sampled_at >= start - SAMPLE_LOOKBACK, U.sampled_at < end))
        return [UsageSample(**{c.name: getattr(r, c.name) for c in t.usage_samples.columns})
                for r in self._conn.execute(stmt)]

    def between(self, start: datetime, end: datetime) -> list[UsageRecord]:
        stmt = select(t.usage_records).where(and_(R.hour >= start, R.hour < end)).order_by(R.hour, R.allocation_id)
        return [_record(r) for r in self._conn.execute(stmt)]

    def for_borrower(self, member_id: str, start: datetime, end: datetime) -> list[UsageRecord]:
        """A member's usage records as a borrower (own use included) in [start, end)."""
        stmt = (select(t.usage_records).where(and_(R.borrower_id == member_id, R.hour >= start, R.hour < end))
                .order_by(R.hour, R.allocation_id))
        return [_record(r) for r in self._conn.execute(stmt)]

    def grouped(self, start: datetime, end: datetime, *, member_id: str | None = None,
                as_lender: bool = False) -> list[GroupedUsage]:
        """Σ of the records of [start, end) per (borrower, lender, workload, offering, class): one query."""
        keys = (R.borrower_id, R.lender_id, R.workload_id, R.offering_id, R.service_class, R.site_id)
        sums = [func.sum(getattr(R, q)) for q in QUANTITY_FIELDS] + [func.coalesce(func.sum(R.cpu_time_ns), 0)]
        stmt = select(*keys, *sums).where(and_(R.hour >= start, R.hour < end)).group_by(*keys).order_by(*keys)
        if member_id is not None:
            stmt = stmt.where((R.lender_id if as_lender else R.borrower_id) == member_id)
        out = []
        for row in self._conn.execute(stmt):
            b, le, w, o, cls, site, *q, cpu = row
            out.append(GroupedUsage(b, le, w, o, ServiceClass(cls), Quantities(*(int(x) for x in q)), int(cpu),
                                    site))
        return out

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.usage_records)).scalar_one())


def _record(r: Row[Any]) -> UsageRecord:
    values = {c.name: getattr(r, c.name) for c in t.usage_records.columns}
    values["service_class"] = ServiceClass(values["service_class"])
    return UsageRecord(**values)


class PriceBookRepository(Repo):
    def add(self, book: PriceBook) -> None:
        self._conn.execute(insert(t.price_books).values(
            id=book.id, name=book.name, valid_from=book.valid_from,
            agreement_kind=book.agreement_kind.value if book.agreement_kind else None,
            member_category=book.member_category.value if book.member_category else None,
            service_class=book.service_class.value if book.service_class else None,
            operator_fee_percent=book.operator_fee_percent, created_at=book.created_at,
            **{f: getattr(book.prices, f) for f in PRICE_FIELDS}))

    def list(self) -> list[PriceBook]:
        stmt = select(t.price_books).order_by(P.valid_from, P.created_at, P.id)
        return [_book(r) for r in self._conn.execute(stmt)]

    def get(self, book_id: str) -> PriceBook | None:
        row = self._one(select(t.price_books).where(P.id == book_id))
        return _book(row) if row else None


def _book(r: Row[Any]) -> PriceBook:
    return PriceBook(r.id, r.name, r.valid_from, Prices(**{f: getattr(r, f) for f in PRICE_FIELDS}),
                     r.operator_fee_percent, AgreementKind(r.agreement_kind) if r.agreement_kind else None,
                     MemberCategory(r.member_category) if r.member_category else None,
                     ServiceClass(r.service_class) if r.service_class else None, created_at=r.created_at)


class BillingRepository(Repo):
    def run_for(self, period: str) -> BillingRun | None:
        row = self._one(select(t.billing_runs).where(t.billing_runs.c.period == period))
        return BillingRun(**row._mapping) if row else None

    def runs(self) -> list[BillingRun]:
        return [BillingRun(**r._mapping) for r in self._conn.execute(
            select(t.billing_runs).order_by(t.billing_runs.c.period))]

    def add_run(self, run: BillingRun, lines: list[tuple[str, Line]], documents: list[Document]) -> None:
        self._conn.execute(insert(t.billing_runs).values(**vars(run)))
        if lines:
            self._conn.execute(insert(t.billing_lines), [_line_row(line_id, run.id, line) for line_id, line in lines])
        self.add_documents(documents)

    def add_documents(self, documents: list[Document]) -> None:
        if documents:
            self._conn.execute(insert(t.billing_documents), [vars(d) for d in documents])

    def lines(self, run_id: str, *, borrower_id: str | None = None, lender_id: str | None = None) -> list[Line]:
        stmt = select(t.billing_lines).where(L.run_id == run_id).order_by(L.borrower_id, L.lender_id, L.workload_id,
                                                                             L.price_book_id)
        if borrower_id is not None:
            stmt = stmt.where(L.borrower_id == borrower_id)
        if lender_id is not None:
            stmt = stmt.where(L.lender_id == lender_id)
        return [Line(r.borrower_id, r.lender_id, r.workload_id, r.offering_id, ServiceClass(r.service_class),
                     r.price_book_id, Quantities(*(getattr(r, q) for q in QUANTITY_FIELDS)),
                     euros(r.amount_cents), euros(r.fee_cents)) for r in self._conn.execute(stmt)]

    def documents(self, *, member_id: str | None = None, run_id: str | None = None,
                  kind: str | None = None) -> list[Document]:
        stmt = select(t.billing_documents).order_by(D.issued_on, D.number)
        for column, value in ((D.member_id, member_id), (D.run_id, run_id), (D.kind, kind)):
            if value is not None:
                stmt = stmt.where(column == value)
        return [_document(r) for r in self._conn.execute(stmt)]

    def document(self, document_id: str) -> Document | None:
        row = self._one(select(t.billing_documents).where(or_(D.id == document_id, D.number == document_id)))
        return _document(row) if row else None

    def count_documents(self, prefix: str) -> int:
        return int(self._conn.execute(select(func.count()).select_from(t.billing_documents)
                                      .where(D.number.like(prefix + "%"))).scalar_one())


def _line_row(line_id: str, run_id: str, line: Line) -> dict[str, Any]:
    return {"id": line_id, "run_id": run_id, "borrower_id": line.borrower_id, "lender_id": line.lender_id,
            "workload_id": line.workload_id, "offering_id": line.offering_id,
            "service_class": line.service_class.value, "price_book_id": line.price_book_id,
            **{q: getattr(line.quantities, q) for q in QUANTITY_FIELDS},
            "amount_cents": cents_of(line.amount), "fee_cents": cents_of(line.fee)}


def _document(r: Row[Any]) -> Document:
    return Document(**{**r._mapping, "kind": DocumentKind(r.kind)})
