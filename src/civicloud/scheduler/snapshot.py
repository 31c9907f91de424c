"""The scheduler's view of the federation at one instant, as arrays.

Built once per placement pass from the store (or the benchmark's synthetic
region), then read by every decision of the pass: each filter and scorer is a
vectorised operation over all hosts, so a decision over 5,000 hosts costs
tens of microseconds per plugin instead of thousands of Python calls.

The scheduler never mutates a snapshot. The placement service calls
``with_claim`` after a successful claim so the next decision of the same pass
sees the new allocation without re-reading the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from civicloud.domain.catalogue import ServiceClass
from civicloud.domain.members import MemberCategory
from civicloud.domain.offers import Offer
from civicloud.domain.sites import Certification, CertificationKind

# Resource rows of the capacity matrices.
VCPU, MEM, DISK, GPU = range(4)
RESOURCES = ("vcpus", "memory_mib", "disk_gib", "gpus")
CATEGORY_BIT = {c: 1 << i for i, c in enumerate(MemberCategory)}
ALL_CATEGORIES = sum(CATEGORY_BIT.values())
# Certification bits: HDS activities 1–6 are bits 0–5, then the traits.
TRAIT_BIT = {"iso27001": 1 << 6, "secnumcloud": 1 << 7}


def hds_bits(activities: frozenset[int]) -> int:
    return sum(1 << (a - 1) for a in activities)


def certification_bits(certs: Sequence[Certification], day: date) -> int:
    """The bits of the certifications placement may rely on that day: attested by the federation's
    operator and not expired (a certification its site only proposed counts for nothing)."""
    bits = 0
    for cert in certs:
        if not cert.counts_on(day):
            continue
        if cert.kind is CertificationKind.HDS:
            bits |= hds_bits(cert.activities)
        else:
            bits |= TRAIT_BIT[cert.kind.value]
    return bits


@dataclass(frozen=True)
class SiteFacts:
    """What placement needs to know of a site."""

    id: str
    name: str
    member_id: str
    timezone: str
    department: str
    region: str | None
    offer: Offer
    certifications: tuple[Certification, ...] = ()
    country: str = "FR"
    carbon_g_per_kwh: float = 52.0
    latitude: float | None = None
    longitude: float | None = None
    is_holiday: Callable[[date], bool] = field(default=lambda _d: False, compare=False, repr=False)


@dataclass(frozen=True)
class HostRow:
    """One host as the store (or a benchmark) describes it. Quadruples are (vcpus, memory_mib, disk_gib, gpus)."""

    id: str
    name: str
    site_id: str
    total: tuple[int, int, int, int]
    reserved: tuple[int, int, int, int] = (0, 0, 0, 0)
    ratios: tuple[float, float, float, float] = (4.0, 1.0, 1.0, 1.0)
    allocated: tuple[int, int, int, int] = (0, 0, 0, 0)
    allocated_guaranteed: tuple[int, int, int, int] = (0, 0, 0, 0)
    owner_used: tuple[int, int, int, int] = (0, 0, 0, 0)
    generation: int = 0
    last_seen_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    host_ids: tuple[str, ...]
    host_names: tuple[str, ...]
    generations: np.ndarray  # (N,) int64
    site_of: np.ndarray  # (N,) index into sites
    sites: tuple[SiteFacts, ...]
    capacity: np.ndarray  # (4, N) (total − reserved) × ratio
    headroom: np.ndarray  # (4, N) (total − reserved − owner's own use) × ratio: what the owner leaves free now
    allocated: np.ndarray  # (4, N) all civicloud allocations
    allocated_guaranteed: np.ndarray  # (4, N)
    # Rooms derived from the above, precomputed because every decision reads them:
    free: np.ndarray  # (4, N) capacity − allocated
    lent_room: np.ndarray  # (4, N) ⌊capacity × share lent now⌋ − allocated
    committed_room: np.ndarray  # (4, N) ⌊capacity × committed share⌋ − guaranteed allocations
    owner_room: np.ndarray  # (4, N) headroom − allocated
    fresh: np.ndarray  # (N,) bool: the host's agent reported recently
    share_now: np.ndarray  # (N,) fraction of capacity the offer lends now
    calendar_ok: np.ndarray  # (N,) bool: the offer's calendar could be evaluated now (if not, share_now is 0)
    committed: np.ndarray  # (N,) committed fraction (guaranteed room)
    categories: np.ndarray  # (N,) bitmask of borrower categories the offer allows
    cert_bits: np.ndarray  # (N,) certification bits valid today
    lender_of: np.ndarray  # (N,) index of the host's lending member
    lenders_active: np.ndarray  # (L,) bool: the member already lends something, on any host
    site_carbon: np.ndarray  # (S,)
    site_lat: np.ndarray  # (S,) NaN when unknown
    site_lon: np.ndarray  # (S,)
    site_region: tuple[str | None, ...]
    site_department: tuple[str, ...]
    site_country: tuple[str, ...]
    index_of: Mapping[str, int]

    @property
    def size(self) -> int:
        return len(self.host_ids)

    def fits(self, room: np.ndarray, need: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fits mask, index of the first resource short) of ``room`` (4, N) for ``need`` over ``candidates``.

        Only the resources the request needs are compared, row by row on contiguous
        memory; a full candidate set reads the rows without copying them.
        """
        full = candidates.size == self.size
        ok = np.ones(candidates.size, dtype=bool)
        first = np.zeros(candidates.size, dtype=np.int32)
        for r in range(4):
            if need[r] <= 0:
                continue
            row = room[r] if full else room[r][candidates]
            short = row < need[r]
            first = np.where(ok & short, r, first)
            ok &= ~short
        return ok, first

    def rows(self, matrix: np.ndarray, r: int, candidates: np.ndarray) -> np.ndarray:
        row: np.ndarray = matrix[r] if candidates.size == self.size else matrix[r][candidates]
        return row

    def per_host(self, values: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return values if candidates.size == self.size else values[candidates]

    def site_name(self, index: int) -> str:
        """The name of the site host ``index`` belongs to: what a borrower is told of where its workload runs
        (the host's own name is its lender's business)."""
        return self.sites[int(self.site_of[index])].name

    def with_claim(self, index: int, resources: np.ndarray, service_class: ServiceClass) -> Snapshot:
        """A new snapshot where host ``index`` holds ``resources`` more (after a successful claim)."""
        allocated = self.allocated.copy()
        allocated[:, index] += resources
        changes: dict[str, Any] = {}  # arrays, by field name
        for name in ("free", "lent_room", "owner_room"):
            room = getattr(self, name).copy()
            room[:, index] -= resources
            changes[name] = room
        guaranteed = self.allocated_guaranteed
        if service_class is ServiceClass.GUARANTEED:
            guaranteed = guaranteed.copy()
            guaranteed[:, index] += resources
            committed_room = self.committed_room.copy()
            committed_room[:, index] -= resources
            changes["committed_room"] = committed_room
        generations = self.generations.copy()
        generations[index] += 1
        active = self.lenders_active
        if not active[self.lender_of[index]]:
            active = active.copy()
            active[self.lender_of[index]] = True
        return replace(self, allocated=allocated, allocated_guaranteed=guaranteed, generations=generations,
                       lenders_active=active, **changes)


def build_snapshot(hosts: Sequence[HostRow], sites: Sequence[SiteFacts], now: datetime,
                   stale_after: timedelta) -> Snapshot:
    """Arrays over ``hosts`` (kept in the given order: it is the tie-break of equal scores)."""
    site_index = {s.id: i for i, s in enumerate(sites)}
    n = len(hosts)
    site_of = np.array([site_index[h.site_id] for h in hosts], dtype=np.int64)

    today = now.date()
    shares = [calendar_share(s, now) for s in sites]
    share = np.array([lent for lent, _ok in shares] or [0.0])
    calendar_ok = np.array([ok for _lent, ok in shares] or [True], dtype=bool)
    committed = np.array([s.offer.committed_percent / 100.0 for s in sites] or [0.0])
    cats = np.array([sum(CATEGORY_BIT[c] for c in s.offer.borrower_categories) or ALL_CATEGORIES for s in sites]
                    or [0], dtype=np.int64)
    certs = np.array([certification_bits(s.certifications, today) for s in sites] or [0], dtype=np.int64)
    lenders = sorted({s.member_id for s in sites})
    lender_index = {m: i for i, m in enumerate(lenders)}
    site_lender = np.array([lender_index[s.member_id] for s in sites] or [0], dtype=np.int64)
    lender_of = site_lender[site_of] if n else np.zeros(0, dtype=np.int64)
    share_now = share[site_of] if n else np.zeros(0)
    committed_now = committed[site_of] if n else np.zeros(0)
    columns = _host_columns(hosts, share_now, committed_now, now - stale_after)
    return Snapshot(
        now=now,
        host_ids=tuple(h.id for h in hosts),
        host_names=tuple(h.name for h in hosts),
        site_of=site_of,
        sites=tuple(sites),
        share_now=share_now,
        calendar_ok=calendar_ok[site_of] if n else np.zeros(0, dtype=bool),
        committed=committed_now,
        categories=cats[site_of] if n else np.zeros(0, dtype=np.int64),
        cert_bits=certs[site_of] if n else np.zeros(0, dtype=np.int64),
        lender_of=lender_of,
        lenders_active=_lenders_active(lender_of, columns["allocated"], len(lenders)),
        site_carbon=np.array([s.carbon_g_per_kwh for s in sites], dtype=np.float64),
        site_lat=np.array([np.nan if s.latitude is None else s.latitude for s in sites], dtype=np.float64),
        site_lon=np.array([np.nan if s.longitude is None else s.longitude for s in sites], dtype=np.float64),
        site_region=tuple(s.region for s in sites),
        site_department=tuple(s.department for s in sites),
        site_country=tuple(s.country for s in sites),
        index_of={h.id: i for i, h in enumerate(hosts)},
        **columns,
    )


def _host_columns(hosts: Sequence[HostRow], share_now: np.ndarray, committed_now: np.ndarray,
                  cutoff: datetime) -> dict[str, np.ndarray]:
    """The snapshot's arrays that come from the hosts' own rows (a host is fresh if seen at or after
    ``cutoff``), given the share its offer lends now and the committed share, host by host."""
    n = len(hosts)
    total = np.array([h.total for h in hosts], dtype=np.float64).reshape(n, 4).T
    reserved = np.array([h.reserved for h in hosts], dtype=np.float64).reshape(n, 4).T
    ratios = np.array([h.ratios for h in hosts], dtype=np.float64).reshape(n, 4).T
    owner = np.array([h.owner_used for h in hosts], dtype=np.float64).reshape(n, 4).T
    allocated = np.array([h.allocated for h in hosts], dtype=np.float64).reshape(n, 4).T
    guaranteed = np.array([h.allocated_guaranteed for h in hosts], dtype=np.float64).reshape(n, 4).T
    capacity = np.floor((total - reserved) * ratios + 1e-9)
    headroom = np.floor(np.maximum(total - reserved - owner, 0) * ratios + 1e-9)
    return {
        "generations": np.array([h.generation for h in hosts], dtype=np.int64),
        "capacity": capacity,
        "headroom": headroom,
        "allocated": allocated,
        "allocated_guaranteed": guaranteed,
        "free": capacity - allocated,
        "lent_room": np.floor(capacity * share_now + 1e-9) - allocated,
        "committed_room": np.floor(capacity * committed_now + 1e-9) - guaranteed,
        "owner_room": headroom - allocated,
        "fresh": np.array([h.last_seen_at is not None and h.last_seen_at >= cutoff for h in hosts], dtype=bool),
    }


def _lenders_active(lender_of: np.ndarray, allocated: np.ndarray, n_lenders: int) -> np.ndarray:
    active = np.zeros(n_lenders, dtype=bool)
    if lender_of.size:
        active[np.unique(lender_of[allocated.any(axis=0)])] = True
    return active


def with_hosts(snapshot: Snapshot, rows: Mapping[int, HostRow], now: datetime, stale_after: timedelta) -> Snapshot:
    """``snapshot`` at ``now`` with the hosts at these indices as their rows now say: the same as
    ``build_snapshot`` would give provided each row keeps its host's name order and site, nothing else changed
    (sites, offers, the share lent now, the day) and no other host went stale since the snapshot was built."""
    if not rows:
        return replace(snapshot, now=now)
    index = np.fromiter(rows, dtype=np.int64, count=len(rows))
    fresh_columns = _host_columns(list(rows.values()), snapshot.share_now[index], snapshot.committed[index],
                                  now - stale_after)
    changes: dict[str, Any] = {}
    for name, values in fresh_columns.items():
        column = getattr(snapshot, name).copy()
        if column.ndim == 2:
            column[:, index] = values
        else:
            column[index] = values
        changes[name] = column
    names = list(snapshot.host_names)
    for i, row in rows.items():
        names[i] = row.name
    return replace(snapshot, now=now, host_names=tuple(names), **changes,
                   lenders_active=_lenders_active(snapshot.lender_of, changes["allocated"],
                                                  snapshot.lenders_active.size))


def calendar_share(site: SiteFacts, now: datetime) -> tuple[float, bool]:
    """The fraction a site lends now, and whether its calendar could be evaluated. One that cannot (its time
    zone missing from this machine's database, its holidays not to be looked up: the holidays library raises
    NotImplementedError for a subdivision it does not know) lends nothing rather than stopping placement for
    everyone, and the offer_open filter says so with a reason of its own."""
    try:
        return site.offer.share_at(now, site.timezone, site.is_holiday) / 100.0, True
    except (ValueError, KeyError, OSError, NotImplementedError):
        return 0.0, False
