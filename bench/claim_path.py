"""The full claim path: pending workloads in the store -> snapshot -> decision -> compare-and-swap claim.

Used by placement.py; runs on SQLite (a temporary file) and on PostgreSQL when
CIVICLOUD_BENCH_POSTGRES_URL (default: the local server's admin URL) answers.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from civicloud.clock import FrozenClock
from civicloud.clock import random_ids as new_id
from civicloud.domain import Member, MemberCategory, Offering, Ratios, Resources, Site
from civicloud.services.placement import PlacementSettings, place_pending
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from region import NOW, build_region, requests

ADMIN_URL = os.environ.get("CIVICLOUD_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _load_region(engine, n_hosts: int, n_requests: int) -> None:  # type: ignore[no-untyped-def]
    """The synthetic département and the pending requests, written through the repositories."""
    from civicloud.domain import DesiredPower, Workload, WorkloadState

    region = build_region(n_hosts)
    with SqlUnitOfWork(engine) as uow:
        members = {}
        for site in region.sites:
            if site.member_id not in members:
                members[site.member_id] = Member(new_id(), site.member_id, "219300290", None, MemberCategory.COMMUNE,
                                                 NOW)
                uow.members.add(members[site.member_id])
            uow.sites.add(Site(site.id, members[site.member_id].id, site.name, "93029", site.timezone,
                               site.certifications, NOW, site.latitude, site.longitude, site.carbon_g_per_kwh),
                          cert_ids=[new_id() for _ in site.certifications])
            uow.offers.set(new_id(), site.id, None, site.offer, NOW)
        for h in region.hosts:
            uow.hosts.report(h.site_id, h.name, "test:///default", Resources(*h.total), Resources(*h.owner_used),
                             NOW, h.id)
            uow.hosts.set_reserve(h.id, Resources(*h.reserved), Ratios(*h.ratios[:3]))
        borrowers = {}
        offerings: dict[tuple, Offering] = {}
        i = 0
        for batch in requests(n_requests):
            for req in batch:
                cat = req.borrower_category
                if cat not in borrowers:
                    borrowers[cat] = Member(new_id(), f"borrower-{cat.value}", "219300084", None, cat, NOW)
                    uow.members.add(borrowers[cat])
                key = (req.resources, req.service_class, req.hds_activities)
                if key not in offerings:
                    offerings[key] = Offering(new_id(), f"o{len(offerings)}", "", Resources(*req.resources),
                                              req.service_class, req.hds_activities)
                    uow.offerings.add(offerings[key])
                when = NOW + timedelta(microseconds=i)
                i += 1
                uow.workloads.add(Workload(new_id(), borrowers[cat].id, offerings[key].id, f"w{i}",
                                           WorkloadState.PENDING, DesiredPower.RUNNING, None, "", when, when,
                                           req.service_class))
        uow.commit()


def _run(url: str, n_hosts: int, n_requests: int) -> dict[str, float | int]:
    engine = make_engine(url)
    upgrade(engine)
    _load_region(engine, n_hosts, n_requests)
    settings = PlacementSettings(batch=n_requests)
    clock = FrozenClock(NOW)  # the region's hosts reported at NOW: the pass decides at that instant
    factory = lambda: SqlUnitOfWork(engine, clock)  # noqa: E731
    batches: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    outcomes = place_pending(factory, settings, observe=lambda s, n: batches.append((s, n)))
    elapsed = time.perf_counter() - t0
    # A workload's claim latency is its batch's: from the batch's first decision to its commit.
    latencies = sorted(s for s, n in batches for _ in range(n))
    placed = sum(o.placed for o in outcomes)
    with engine.connect() as conn:
        over = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT h.id FROM hosts h JOIN allocations a ON a.host_id = h.id "
            "AND a.released_at IS NULL GROUP BY h.id, h.vcpus, h.reserved_vcpus, h.cpu_ratio, h.memory_mib, "
            "h.reserved_memory_mib, h.ram_ratio HAVING SUM(a.vcpus) > (h.vcpus - h.reserved_vcpus) * h.cpu_ratio "
            "OR SUM(a.memory_mib) > (h.memory_mib - h.reserved_memory_mib) * h.ram_ratio) o")).scalar()
    engine.dispose()
    return {"requests": len(outcomes), "placed": placed, "placements_per_s": round(len(outcomes) / elapsed, 1),
            "seconds": round(elapsed, 2), "overbooked_hosts": int(over or 0),
            "p50_ms": round(latencies[len(latencies) // 2] * 1e3, 2),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1e3, 2)}


def claim_path(n_hosts: int, n_requests: int) -> dict[str, object]:
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _run(f"sqlite:///{Path(tmp) / 'bench.db'}", n_hosts, n_requests)
    out.update({f"claim_sqlite_{k}": v for k, v in sqlite.items()})
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"civicloud_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - a bench without PostgreSQL still reports SQLite
        out["claim_postgres_skipped"] = f"PostgreSQL unreachable: {type(exc).__name__}"
        out["claim_placements_per_s"], out["claim_p99_ms"] = sqlite["placements_per_s"], sqlite["p99_ms"]
        return out
    try:
        pg = _run(admin.url.set(database=name).render_as_string(hide_password=False), n_hosts, n_requests)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    out.update({f"claim_postgres_{k}": v for k, v in pg.items()})
    out["claim_placements_per_s"] = pg["placements_per_s"]
    out["claim_p99_ms"] = pg["p99_ms"]
    return out


