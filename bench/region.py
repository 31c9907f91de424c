"""A synthetic département for the benchmarks: town halls, intercommunalities and hospitals lending.

Deterministic (seeded). Shapes follow what such bodies run: a town hall has
one to four modest hypervisors and lends office-hours 20 % / nights and
weekends 80 %; an EPCI a few bigger ones; a hospital many large hosts on an
HDS-certified site that lends a committed 10 % and 30 % more. Requests come
from the Azure V1 trace in ../shared/data/azure-v1/ (flavour letters ->
vCPU, GiB), in its arrival batches.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from civicloud.domain import Certification, CertificationKind, MemberCategory, ServiceClass
from civicloud.domain.offers import Offer, Window
from civicloud.scheduler.framework import Request
from civicloud.scheduler.snapshot import HostRow, SiteFacts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "azure-v1"
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # a Tuesday, 22:00 in Paris: night offers are open
WEEKDAYS = frozenset(range(5))
TOWN_HALL = Offer(committed_percent=5, default_percent=80, windows=(Window(WEEKDAYS, time(8), time(19), 20),))
NIGHTS_ONLY = Offer(default_percent=0, windows=(Window(WEEKDAYS, time(20), time(7), 80),
                                                Window(frozenset({5, 6}), time(0), time(0), 80)))
HOSPITAL = Offer(committed_percent=10, default_percent=40,
                 borrower_categories=frozenset({MemberCategory.HOSPITAL, MemberCategory.COMMUNE,
                                                MemberCategory.DEPARTMENT, MemberCategory.EPCI}))
BORROWERS = (MemberCategory.COMMUNE, MemberCategory.COMMUNE, MemberCategory.SCHOOL, MemberCategory.EPCI,
             MemberCategory.HOSPITAL, MemberCategory.STARTUP)


@dataclass(frozen=True)
class Region:
    sites: list[SiteFacts]
    hosts: list[HostRow]


def build_region(n_hosts: int, seed: int = 7, now: datetime = NOW) -> Region:
    rng = random.Random(seed)
    sites: list[SiteFacts] = []
    hosts: list[HostRow] = []
    hds = Certification(CertificationKind.HDS, date(2028, 1, 1), frozenset(range(1, 7)), attested_at=now,
                        attested_by="user:operator")  # only attested certifications count
    expired = replace(hds, expires_on=date(2026, 6, 1))
    while len(hosts) < n_hosts:
        kind = rng.random()
        sid = f"site-{len(sites):05d}"
        lat, lon = 48.85 + rng.random() * 0.2, 2.35 + rng.random() * 0.3
        carbon = rng.uniform(25, 90)
        if kind < 0.80:  # a town hall
            offer = NIGHTS_ONLY if rng.random() < 0.25 else TOWN_HALL
            site = SiteFacts(sid, sid, f"commune-{len(sites)}", "Europe/Paris", "93", "11", offer,
                             carbon_g_per_kwh=carbon, latitude=lat, longitude=lon)
            shapes = [(rng.choice((8, 16, 24, 32)), rng.choice((32, 64, 128, 256)))
                      for _ in range(rng.randint(1, 4))]
        elif kind < 0.93:  # an intercommunality
            site = SiteFacts(sid, sid, f"epci-{len(sites)}", "Europe/Paris", "93", "11", TOWN_HALL,
                             carbon_g_per_kwh=carbon, latitude=lat, longitude=lon)
            shapes = [(rng.choice((32, 48, 64)), rng.choice((256, 384, 512))) for _ in range(rng.randint(3, 8))]
        else:  # a hospital, HDS-certified (one in five certificates has lapsed)
            cert = expired if rng.random() < 0.2 else hds
            site = SiteFacts(sid, sid, f"hospital-{len(sites)}", "Europe/Paris", "93", "11", HOSPITAL,
                             certifications=(cert,), carbon_g_per_kwh=carbon, latitude=lat, longitude=lon)
            shapes = [(rng.choice((48, 64, 96)), rng.choice((384, 512, 768))) for _ in range(rng.randint(6, 20))]
        sites.append(site)
        for cores, gib in shapes:
            if len(hosts) >= n_hosts:
                break
            hid = f"host-{len(hosts):05d}"
            owner = (rng.randint(0, cores // 2), rng.randint(0, gib * 1024 // 3), 0, 0)
            hosts.append(HostRow(hid, hid, sid, total=(cores, gib * 1024, 2000, 0),
                                 reserved=(2, 4096, 50, 0), owner_used=owner, last_seen_at=now))
    return Region(sites, hosts)


def flavours() -> dict[str, tuple[int, int]]:
    out = {}
    for line in (DATA / "flav_map.txt").read_text().split("\n"):
        if line.strip():
            sizes, letter = line.split()
            vcpu, gib = sizes.split(",")
            out[letter] = (int(vcpu), round(float(gib) * 1024))
    return out


def arrivals(limit: int) -> Iterator[list[str]]:
    """Batches of flavour letters, in trace order (one batch = one tenant's burst)."""
    seen = 0
    with gzip.open(DATA / "v1.dev.txt.gz", "rt") as f:
        for line in f:
            _, _, rest = line.strip().partition(" ")
            for batch in rest.strip(",").split(",|,"):
                letters = [x for x in batch.split(",") if x and x != "|"]
                if not letters:
                    continue
                yield letters[: limit - seen]
                seen += len(letters)
                if seen >= limit:
                    return


def requests(limit: int, seed: int = 11) -> Iterator[list[Request]]:
    """Borrowers' requests in arrival batches: 80 % harvest, 20 % guaranteed, 5 % e-health."""
    rng = random.Random(seed)
    sizes = flavours()
    n = 0
    for batch in arrivals(limit):
        borrower = rng.choice(BORROWERS)
        out = []
        for letter in batch:
            vcpu, mib = sizes[letter]
            cls = ServiceClass.GUARANTEED if rng.random() < 0.2 else ServiceClass.HARVEST
            hds_acts = frozenset({1, 2, 3}) if rng.random() < 0.05 else frozenset()
            out.append(Request(f"w{n}", (vcpu, mib, 20, 0), cls, f"b-{borrower.value}", borrower,
                               hds_activities=hds_acts, borrower_location=(48.91, 2.44)))
            n += 1
        yield out


def stale_after() -> timedelta:
    return timedelta(seconds=60)
