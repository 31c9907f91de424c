"""A placement scene plus what billing needs: agreements, price books, allocations held over past periods."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from civicloud.clock import random_ids as new_id
from civicloud.domain import Agreement, AgreementKind, Allocation, MemberCategory, ServiceClass, UsageSample
from civicloud.domain.billing import PriceBook, Prices

from placement_scene import Scene

# September 2026 in Paris time, in UTC; and a moment after it, when it may be billed.
MONTH_START = datetime(2026, 8, 31, 22, 0, tzinfo=UTC)
MONTH_END = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


@dataclass
class Ledger(Scene):
    books: dict[str, PriceBook] = field(default_factory=dict)
    allocations: dict[str, str] = field(default_factory=dict)  # workload name -> allocation id
    workload_ids: dict[str, str] = field(default_factory=dict)

    def agreement(self, member: str, kind: AgreementKind, valid_from: date = date(2026, 1, 1)) -> None:
        with self.uow_factory() as uow:
            uow.agreements.add(Agreement(new_id(), self.members[member].id, kind, valid_from, None))
            uow.commit()

    def price_book(self, name: str, valid_from: date, fee: str = "0", **prices: str) -> PriceBook:
        kind = prices.pop("kind", None)
        book = PriceBook(new_id(), name, valid_from, Prices(**{k: Decimal(v) for k, v in prices.items()}),
                         Decimal(fee), AgreementKind(kind) if kind else None,
                         created_at=datetime(2026, 1, 1, tzinfo=UTC))
        with self.uow_factory() as uow:
            uow.price_books.add(book)
            uow.commit()
        self.books[name] = book
        return book

    def held(self, name: str, member: str, offering: str, host: str, start: datetime, end: datetime | None) -> str:
        """A workload ``name`` of ``member`` that held ``offering`` on ``host`` from ``start`` to ``end``."""
        workload_id = self.workload(member, offering, name, at=start)
        o = self.offerings[offering]
        allocation_id = new_id()
        with self.uow_factory() as uow:
            uow.allocations.add(Allocation(allocation_id, workload_id, self.hosts[host], o.resources, start, None,
                                           o.service_class))
            if end is not None:
                uow.allocations.close(allocation_id, end)
            uow.commit()
        self.allocations[name] = allocation_id
        self.workload_ids[name] = workload_id
        return workload_id

    def books_by_id(self) -> dict[str, str]:
        return {b.id: name for name, b in self.books.items()}

    def sample(self, workload: str, host: str, at: datetime, cpu_s: int, memory_used_mib: int) -> None:
        with self.uow_factory() as uow:
            site_id = next(h.site_id for h in uow.hosts.list() if h.id == self.hosts[host])
            member_id = uow.workloads.get(self.workload_ids[workload]).member_id  # type: ignore[union-attr]
            uow.usage.add_many([UsageSample(new_id(), self.workload_ids[workload], member_id, site_id,
                                            self.hosts[host], at, at, 2, cpu_s * 10**9, 4096, memory_used_mib,
                                            0, 0, 0, 0)])
            uow.commit()





def demo_month(ledger: Ledger) -> Ledger:
    """The region of the demo with a month of usage: see tests/billing/test_billing_month.py for the figures."""
    ledger.member("Drancy")
    ledger.member("Bobigny")
    ledger.member("Start-up Incubateur Bondy", MemberCategory.STARTUP)
    ledger.member("Hôpital Avicenne", MemberCategory.HOSPITAL)
    for name in ("Drancy", "Bobigny", "Hôpital Avicenne"):
        ledger.agreement(name, AgreementKind.MUTUALISATION_CONVENTION)
    ledger.agreement("Start-up Incubateur Bondy", AgreementKind.PPP)
    ledger.site("drancy", "Drancy", None)
    ledger.site("avicenne-hds", "Hôpital Avicenne", None, insee="93008")
    ledger.host("hv1", "drancy")
    ledger.host("hds1", "avicenne-hds")
    ledger.offering("vm.small", vcpus=2, memory_mib=4096, disk_gib=20)
    ledger.offering("ehealth", vcpus=2, memory_mib=8192, disk_gib=50, service_class=ServiceClass.GUARANTEED,
                    hds=frozenset({1, 2}))
    ledger.price_book("public at cost", date(2026, 1, 1), fee="2", kind="mutualisation_convention",
                      vcpu_hour="0.005", ram_gib_hour="0.001", disk_gib_month="0.02")
    ledger.price_book("public at cost 16 Sep", date(2026, 9, 16), fee="2", kind="mutualisation_convention",
                      vcpu_hour="0.006", ram_gib_hour="0.001", disk_gib_month="0.02")
    ledger.price_book("PPP at cost + 25 %", date(2026, 1, 1), fee="2", kind="ppp",
                      vcpu_hour="0.00625", ram_gib_hour="0.00125", disk_gib_month="0.025")
    ledger.held("compta", "Bobigny", "vm.small", "hv1", MONTH_START, None)  # still running after the month
    ledger.held("ml", "Start-up Incubateur Bondy", "vm.small", "hv1", datetime(2026, 9, 10, 8, tzinfo=UTC),
                datetime(2026, 9, 12, 8, tzinfo=UTC))
    ledger.held("dossier-patient", "Hôpital Avicenne", "ehealth", "hds1", MONTH_START - timedelta(days=3), None)
    return ledger
