"""From the store to the scheduler's inputs: the snapshot of hosts and the placement context of a pass.

The context itself, and what is decided on it (``request_for``, ``record_claim``, ``without``), are pure and
live in ``scheduler.context``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from civicloud.domain import (
    Agreement,
    Host,
    Member,
    Offer,
    Offering,
    PlacementGroup,
    Quota,
    Site,
    department_of,
    region_of,
)
from civicloud.domain.members import agreements_in_force
from civicloud.scheduler import HostRow, SiteFacts, Snapshot, build_snapshot
from civicloud.scheduler.context import PlacementContext
from civicloud.scheduler.snapshot import calendar_share, with_hosts
from civicloud.services.sites import NO_OFFER, holidays_of
from civicloud.store import UnitOfWork
from civicloud.store.repositories.hosts import CHECKSUM_MODULUS

__all__ = ["ContextCache", "PlacementContext", "assemble_snapshot", "effective_offers", "host_row", "load_context",
           "load_snapshot", "site_facts"]


def site_facts(site: Site, offer: Offer, default_carbon: float) -> SiteFacts:
    department = department_of(site.insee_code)
    return SiteFacts(site.id, site.name, site.member_id, site.timezone, department, region_of(site.insee_code), offer,
                     site.certifications, site.country,
                     default_carbon if site.carbon_g_per_kwh is None else site.carbon_g_per_kwh,
                     site.latitude, site.longitude, holidays_of(site))


def host_row(host: Host) -> HostRow:
    return HostRow(host.id, host.name, host.site_id, host.total.as_tuple(), host.reserved.as_tuple(),
                   (host.ratios.cpu, host.ratios.ram, host.ratios.disk, 1.0), host.allocated.as_tuple(),
                   host.allocated_guaranteed.as_tuple(), host.owner_used.as_tuple(), host.generation,
                   host.last_seen_at)


def effective_offers(uow: UnitOfWork, sites: list[Site], hosts: list[Host]) -> tuple[dict[str, Offer],
                                                                                     dict[str, Offer]]:
    """(site id -> site's offer, host id -> the host's own offer where the lender set one)."""
    return _split_offers(uow.offers.all(), sites, [(h.id, h.site_id) for h in hosts])


def _split_offers(offers: Mapping[tuple[str, str | None], Offer], sites: Sequence[Site],
                  hosts: Sequence[tuple[str, str]]) -> tuple[dict[str, Offer], dict[str, Offer]]:
    by_site = {s.id: offers.get((s.id, None), NO_OFFER) for s in sites}
    by_host = {host_id: offers[(site_id, host_id)] for host_id, site_id in hosts if (site_id, host_id) in offers}
    return by_site, by_host


def load_snapshot(uow: UnitOfWork, now: datetime, stale_after: timedelta, default_carbon: float) -> Snapshot:
    rows = [host_row(h) for h in uow.hosts.list()]
    return assemble_snapshot(uow.sites.list(), rows, uow.offers.all(), now, stale_after, default_carbon)


def assemble_snapshot(sites: Sequence[Site], rows: Sequence[HostRow], offers: Mapping[tuple[str, str | None], Offer],
                      now: datetime, stale_after: timedelta, default_carbon: float) -> Snapshot:
    """The snapshot of these hosts (in this order) on these sites with these offers."""
    by_site, by_host = _split_offers(offers, sites, [(r.id, r.site_id) for r in rows])
    facts = [site_facts(s, by_site[s.id], default_carbon) for s in sites]
    rows = list(rows)
    if by_host:
        # A host with an offer of its own is seen by the scheduler as the one host of a copy of its site
        # carrying that offer; the copy's id is "<site id>#<host id>", and everything else is the site's.
        known = {f.id: f for f in facts}
        for i, row in enumerate(rows):
            if row.id in by_host:
                override = replace(known[row.site_id], id=f"{row.site_id}#{row.id}", offer=by_host[row.id])
                facts.append(override)
                rows[i] = replace(row, site_id=override.id)
    return build_snapshot(rows, facts, now, stale_after)


def load_context(uow: UnitOfWork, now: datetime, stale_after: timedelta, default_carbon: float) -> PlacementContext:
    """The whole context, read from the store: what a request reads (a resize), and the reference the
    control loop's ``ContextCache`` is tested against."""
    snapshot = load_snapshot(uow, now, stale_after, default_carbon)
    catalogue = _Catalogue.read(uow)
    return catalogue.context(snapshot, uow, now)


@dataclass(frozen=True)
class _Catalogue:
    """What the operators change, rarely: members, agreements, sites, offers, offerings, placement groups."""

    sites: list[Site]
    offers: Mapping[tuple[str, str | None], Offer]
    members: Mapping[str, Member]
    agreements: list[Agreement]
    offerings: Mapping[str, Offering]
    groups: Mapping[str, PlacementGroup]
    location: Mapping[str, tuple[float, float]]  # a borrower's: the first of its sites that has coordinates

    @classmethod
    def read(cls, uow: UnitOfWork) -> _Catalogue:
        sites = uow.sites.list()
        location: dict[str, tuple[float, float]] = {}
        for site in sites:
            if site.latitude is not None and site.longitude is not None:
                location.setdefault(site.member_id, (site.latitude, site.longitude))
        return cls(sites, uow.offers.all(), {m.id: m for m in uow.members.list()}, uow.agreements.all(),
                   {o.id: o for o in uow.offerings.list()}, {g.id: g for g in uow.groups.list()}, location)

    def context(self, snapshot: Snapshot, uow: UnitOfWork, now: datetime) -> PlacementContext:
        # The agreement in force governs (domain.members.agreements_in_force); one without quotas means no limit.
        quotas: dict[str, Mapping[str, Quota]] = {
            member_id: a.quotas for member_id, a in agreements_in_force(self.agreements, now.date()).items()}
        # What placements hold move with every claim: read each time (two aggregate queries).
        return PlacementContext(snapshot, self.members, self.offerings, self.groups, uow.workloads.group_hosts(),
                                uow.workloads.usage_by_member(), quotas, self.location)


_NEVER = datetime.max.replace(tzinfo=UTC)
_NEVER_BEFORE = datetime.min.replace(tzinfo=UTC)


class ContextCache:
    """The control loop's placement context, kept from one pass to the next: what moved is read again.

    Each call reads the catalogue's change counter (``tables.revisions``) and the hosts whose revision rose
    above the last one seen (less a margin for writes that commit late), with the count and checksum of all
    revisions in the same statement: if they agree with what the cache knows plus what it just read, nothing
    else moved; if not (a write committed later than the margin, a host added or removed), every revision is
    read again, as on the first call, after the catalogue moved, and every ``FULL_EVERY``. Only the hosts whose
    revision moved are read whole; the snapshot is patched for them (``scheduler.snapshot.with_hosts``) unless
    the catalogue moved, a host changed site or name, a site's calendar turned, a host went stale, or the day
    changed, when it is built again; with nothing new, the last snapshot serves again at the new instant. What
    placements hold is read every time. A revision read before a concurrent write can only make a pass decide
    on what it would have read anyway: the claims' compare-and-swap on the host's generation stays the guard
    against overbooking, and the next pass reads what moved.

    Not thread-safe: one per control loop (``services.loops.PlacementLoop``)."""

    MARGIN_US = 1_000_000  # writes that commit up to 1 s after they were made are still found by the range
    FULL_EVERY = timedelta(minutes=5)

    def __init__(self, stale_after: timedelta, default_carbon: float) -> None:
        self._stale_after = stale_after
        self._carbon = default_carbon
        self._revisions: dict[str, int] = {}
        self._checksum = 0
        self._mark: int | None = None  # the highest revision seen; None: read every revision next time
        self._full_at = _NEVER_BEFORE
        self._order: list[str] = []
        self._rows: dict[str, HostRow] = {}
        self._catalogue: _Catalogue | None = None
        self._catalogue_revision: int | None = None
        self._snapshot: Snapshot | None = None
        self._calendars: tuple[SiteFacts, ...] = ()  # one site of each distinct calendar
        self._shares: tuple[tuple[float, bool], ...] = ()  # theirs when the snapshot was built
        self._stale_edge = _NEVER  # when a host fresh at the build goes stale
        self.reads = 0  # hosts read again, over the cache's life (benchmarks and tests look)
        self.rebuilds = 0  # snapshots built
        self.patches = 0  # snapshots patched for the hosts that moved
        self.full_scans = 0  # every host's revision read

    def context(self, uow: UnitOfWork, now: datetime) -> PlacementContext:
        rebuild = False
        revision = uow.revisions.get()
        if self._catalogue is None or revision is None or revision != self._catalogue_revision:
            self._catalogue, self._catalogue_revision, rebuild = _Catalogue.read(uow), revision, True
            self._mark = None
        moved = None if self._mark is None or now - self._full_at >= self.FULL_EVERY else self._moved_since(uow)
        if moved is None:
            moved, reordered = self._scan(uow, now)
            rebuild = rebuild or reordered
        changed = self._read(uow, moved)
        if any(h in self._rows and (self._rows[h].name, self._rows[h].site_id) != (row.name, row.site_id)
               for h, row in changed.items()):
            # A host renamed or moved to another site: its place in the order may have changed, and only the
            # store knows the order (its collation). Rare: everything is read again, as on the first pass.
            self._revisions, self._rows, rebuild = {}, {}, True
            changed = self._read(uow, self._scan(uow, now)[0])
        self._rows.update(changed)
        snapshot = self._snapshot
        if rebuild or snapshot is None or not self._still_valid(snapshot, now):
            snapshot = self._build(now)
        elif changed:  # every one of them is in the snapshot: a new host changes the order
            snapshot = with_hosts(snapshot, {snapshot.index_of[h]: r for h, r in changed.items()}, now,
                                  self._stale_after)
            self._stale_edge = min([self._stale_edge, *self._edges(changed.values(), now)])
            self.patches += 1
        elif snapshot.now != now:
            snapshot = replace(snapshot, now=now)
        self._snapshot = snapshot
        return self._catalogue.context(snapshot, uow, now)

    def _read(self, uow: UnitOfWork, host_ids: list[str]) -> dict[str, HostRow]:
        if not host_ids:
            return {}
        rows = {h.id: host_row(h) for h in uow.hosts.get_many(host_ids)}
        self.reads += len(rows)
        return rows

    def _scan(self, uow: UnitOfWork, now: datetime) -> tuple[list[str], bool]:
        """Every host's revision, in order: (the hosts that moved, whether the order or the set changed)."""
        revisions = uow.hosts.revisions()
        self.full_scans += 1
        order = [host_id for host_id, _ in revisions]
        moved = [host_id for host_id, rev in revisions if self._revisions.get(host_id) != rev]
        reordered = order != self._order
        if reordered:
            self._rows = {host_id: self._rows[host_id] for host_id in order if host_id in self._rows}
            self._order = order
        self._revisions = dict(revisions)
        self._checksum = sum(rev % CHECKSUM_MODULUS for _, rev in revisions) % CHECKSUM_MODULUS
        self._mark = max((rev for _, rev in revisions), default=0)
        self._full_at = now
        return moved, reordered

    def _moved_since(self, uow: UnitOfWork) -> list[str] | None:
        """The hosts that moved since the last call, or None when the range cannot tell (read everything)."""
        assert self._mark is not None
        above, count, checksum = uow.hosts.revisions_since(self._mark - self.MARGIN_US)
        moved = [(host_id, rev) for host_id, rev in above if self._revisions.get(host_id) != rev]
        if count != len(self._revisions) or any(host_id not in self._revisions for host_id, _ in moved):
            return None
        expected = (self._checksum + sum(rev % CHECKSUM_MODULUS - self._revisions[host_id] % CHECKSUM_MODULUS
                                         for host_id, rev in moved)) % CHECKSUM_MODULUS
        if expected != checksum % CHECKSUM_MODULUS:
            return None
        self._revisions.update(moved)
        self._checksum = expected
        self._mark = max([self._mark, *(rev for _, rev in moved)])
        return [host_id for host_id, _ in moved]

    def _still_valid(self, snapshot: Snapshot, now: datetime) -> bool:
        return (snapshot.now <= now < self._stale_edge and now.date() == snapshot.now.date()
                and tuple(calendar_share(f, now) for f in self._calendars) == self._shares)

    def _edges(self, rows: Iterable[HostRow], now: datetime) -> list[datetime]:
        """When each of these hosts, fresh at ``now``, goes stale."""
        cutoff = now - self._stale_after
        return [r.last_seen_at + self._stale_after + _TICK for r in rows
                if r.last_seen_at is not None and r.last_seen_at >= cutoff]

    def _build(self, now: datetime) -> Snapshot:
        assert self._catalogue is not None
        rows = [self._rows[host_id] for host_id in self._order if host_id in self._rows]
        snapshot = assemble_snapshot(self._catalogue.sites, rows, self._catalogue.offers, now, self._stale_after,
                                     self._carbon)
        distinct: dict[tuple[Offer, str, str], SiteFacts] = {}
        for f in snapshot.sites:
            distinct.setdefault((f.offer, f.timezone, f.department), f)
        self._calendars = tuple(distinct.values())
        self._shares = tuple(calendar_share(f, now) for f in self._calendars)
        self._stale_edge = min(self._edges(rows, now), default=_NEVER)
        self.rebuilds += 1
        return snapshot


_TICK = timedelta(microseconds=1)  # a host is fresh while last seen at or after now - stale_after
