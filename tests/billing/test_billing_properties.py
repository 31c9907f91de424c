"""Billing runs over random usage (hypothesis): a period billed twice is billed once, and a price book change
applies from its date only — through the real roll-up, store and billing service (SQLite, one file per example)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicloud.domain import AgreementKind, MemberCategory
from civicloud.services import billing
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from billing_scene import Ledger
from civicloud_support import OPERATOR

START = datetime(2026, 8, 31, 22, tzinfo=UTC)  # September 2026, Paris
END = datetime(2026, 9, 30, 22, tzinfo=UTC)
NOW = datetime(2026, 10, 5, tzinfo=UTC)

spans = st.lists(st.tuples(st.integers(-48, 30 * 24), st.integers(1, 40 * 24), st.sampled_from(["Bobigny", "Bondy"])),
                 min_size=1, max_size=6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans, st.integers(2, 29), st.integers(0, 3))
def test_runs_are_idempotent_and_prices_apply_from_their_date(usage, change_day: int, minute_offset: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'p.db'}")
        upgrade(engine)
        ledger = Ledger(lambda: SqlUnitOfWork(engine))
        ledger.member("Drancy")
        ledger.member("Bobigny")
        ledger.member("Bondy", MemberCategory.EPCI)
        for name in ("Drancy", "Bobigny", "Bondy"):
            ledger.agreement(name, AgreementKind.MUTUALISATION_CONVENTION)
        ledger.site("drancy", "Drancy", None)
        ledger.host("hv1", "drancy")
        ledger.offering("vm", vcpus=1, memory_mib=1024, disk_gib=0)
        old = ledger.price_book("old", date(2026, 1, 1), fee="3", vcpu_hour="0.01", ram_gib_hour="0.002")
        new = ledger.price_book("new", date(2026, 9, change_day), fee="3", vcpu_hour="0.02", ram_gib_hour="0.002")
        for i, (offset_h, length_h, borrower) in enumerate(usage):
            begin = START + timedelta(hours=offset_h, minutes=minute_offset * 7)
            ledger.held(f"w{i}", borrower, "vm", "hv1", begin, begin + timedelta(hours=length_h))

        run, created = billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW)
        again, created_again = billing.run_billing(ledger.uow_factory, OPERATOR, "2026-09", NOW + timedelta(days=9))
        assert created and not created_again and again == run
        with ledger.uow_factory() as uow:
            lines = uow.billing.lines(run.id)
            docs = uow.billing.documents(run_id=run.id)
        # The same lines and documents as written the first time: nothing added by the second call.
        assert sum(d.total_cents for d in docs if d.kind == "invoice") == run.charged_cents
        assert sum(line.amount for line in lines) * 100 == run.charged_cents

        # Each line's seconds fall on its book's side of the change (Paris midnight of change_day).
        change = datetime(2026, 9, change_day, tzinfo=UTC) - timedelta(hours=2)
        for i, (offset_h, length_h, _b) in enumerate(usage):
            begin = max(START + timedelta(hours=offset_h, minutes=minute_offset * 7), START)
            end = min(START + timedelta(hours=offset_h + length_h, minutes=minute_offset * 7), END)
            before = max(timedelta(0), min(end, change) - begin).total_seconds()
            after = max(timedelta(0), end - max(begin, change)).total_seconds()
            mine = {line.price_book_id: line.quantities.seconds for line in lines
                    if line.workload_id == ledger.workload_ids[f"w{i}"]}
            assert mine.get(old.id, 0) == int(before) and mine.get(new.id, 0) == int(after)
        assert run.charged_cents - run.fees_cents == sum(int(line.credit * 100) for line in lines)
        assert all(line.amount >= 0 and line.fee <= line.amount for line in lines)
        assert Decimal(run.fees_cents).scaleb(-2) == sum((line.fee for line in lines), Decimal("0.00"))
        engine.dispose()
