"""The planners (``scheduler.planning``) as pure tables: no database, no store, no services.

Each scene is a ``World`` of domain objects (members, sites with their offers, hosts, offerings, workloads with
what they hold, agreements, placement groups), turned into a ``PlacementContext`` the way ``load_context`` does
(``site_facts``/``host_row`` then ``build_snapshot``). A world applies a plan the way the services do, checking
each host's generation as their compare-and-swap does, so a scene can run pass after pass.

The scenes are those of tests/placement/test_placement_service.py, test_reclaim_service.py and
tests/api/test_workload_resize.py, then cases of this file's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from civicloud.domain import (
    Agreement,
    AgreementKind,
    Certification,
    DesiredPower,
    GroupPolicy,
    Host,
    Member,
    MemberCategory,
    Offer,
    Offering,
    PlacementExplanation,
    PlacementGroup,
    Quota,
    Ratios,
    Residency,
    Resources,
    ServiceClass,
    Site,
    Window,
    Workload,
    WorkloadState,
)
from civicloud.domain.members import agreements_in_force
from civicloud.scheduler import build_snapshot
from civicloud.scheduler.context import PlacementContext
from civicloud.scheduler.planning import (
    PlacementPlan,
    ReclaimPlan,
    default_profiles,
    plan_placements,
    plan_reclaim,
    plan_resize,
)
from civicloud.scheduler.snapshot import MEM, VCPU
from civicloud.services.snapshots import host_row, site_facts

from placement_scene import HDS_EXPIRED, HDS_VALID, NIGHTS_ONLY

# -- builders ---------------------------------------------------------------------------------------------

S = WorkloadState
H, G = ServiceClass.HARVEST, ServiceClass.GUARANTEED
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TUESDAY_10H = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Paris
TUESDAY_22H = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 22:00 in Paris
WEDNESDAY_10H = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris: the night window has closed
STALE_AFTER = timedelta(seconds=60)  # PlacementSettings' default
PROFILES = default_profiles()
# Half the host by day, all of it by night; a quarter committed to guaranteed work; two minutes' notice.
DAY_AND_NIGHT = Offer(committed_percent=25, default_percent=50, reclaim_notice_s=120,
                      windows=(Window(frozenset(range(7)), time(20), time(7), 100),))
ALL_HOURS = Offer(default_percent=100)


@dataclass
class World:
    """What the store would hold, as domain objects; ids are the names given. ``context(now)`` is what
    ``load_context`` reads at ``now``, every host but the ``silent`` ones having just reported."""

    members: dict[str, Member] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)  # site -> its offer
    hosts: dict[str, Host] = field(default_factory=dict)
    offerings: dict[str, Offering] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)
    holds: dict[str, Resources] = field(default_factory=dict)  # workload -> its open allocation
    agreements: list[Agreement] = field(default_factory=list)
    groups: dict[str, PlacementGroup] = field(default_factory=dict)

    def member(self, name: str, category: MemberCategory = MemberCategory.COMMUNE) -> World:
        self.members[name] = Member(name, name, "219300290", None, category, EPOCH)
        return self

    def site(self, name: str, member: str, offer: Offer, *, certs: tuple[Certification, ...] = (),
             insee: str = "93029") -> World:
        self.sites[name] = Site(name, member, name, insee, "Europe/Paris", certs, EPOCH)
        self.offers[name] = offer
        return self

    def host(self, name: str, site: str, vcpus: int = 16, memory_mib: int = 65536, disk_gib: int = 500, *,
             owner: Resources = Resources(), seen: datetime | None = None, generation: int = 0) -> World:
        self.hosts[name] = Host(name, site, name, "test:///default", Resources(vcpus, memory_mib, disk_gib),
                                Resources(), Ratios(), Resources(), generation, seen, owner_used=owner)
        return self

    def offering(self, name: str, vcpus: int = 1, memory_mib: int = 1024, disk_gib: int = 10,
                 service_class: ServiceClass = H, hds: frozenset[int] = frozenset()) -> World:
        self.offerings[name] = Offering(name, name, "", Resources(vcpus, memory_mib, disk_gib), service_class, hds)
        return self

    def quota(self, member: str, **per_class: Quota) -> World:
        self.agreements.append(Agreement(f"agreement-{member}", member, AgreementKind.MUTUALISATION_CONVENTION,
                                          EPOCH.date(), None, per_class))
        return self

    def group(self, name: str, member: str, policy: GroupPolicy) -> World:
        self.groups[name] = PlacementGroup(name, member, name, policy, EPOCH)
        return self

    def request(self, member: str, offering: str, name: str, at: datetime, *, group: str | None = None,
                residency: Residency = Residency()) -> Workload:
        """A pending request, as POST /workloads leaves it."""
        o = self.offerings[offering]
        w = Workload(name, member, offering, name, S.PENDING, DesiredPower.RUNNING, None, "waiting for placement",
                     at, at, o.service_class, group, residency)
        self.workloads[name] = w
        return w

    def placed(self, member: str, offering: str, name: str, host: str, at: datetime, *, state: S = S.RUNNING,
               desired: DesiredPower = DesiredPower.RUNNING, deadline: datetime | None = None,
               group: str | None = None) -> Workload:
        """A workload already on ``host``, holding its offering's size there."""
        o = self.offerings[offering]
        w = Workload(name, member, offering, name, state, desired, host, "", at, at, o.service_class, group,
                     evict_deadline=deadline)
        self.workloads[name] = w
        self.holds[name] = o.resources
        return w

    def report(self, host: str, *, owner: Resources) -> World:
        """The host's agent reports its owner's own load."""
        self.hosts[host] = replace(self.hosts[host], owner_used=owner)
        return self

    def pending(self) -> list[Workload]:
        """Pending workloads, oldest first (``uow.workloads.pending``)."""
        return sorted((w for w in self.workloads.values() if w.state is S.PENDING), key=lambda w: (w.created_at, w.id))

    def held(self) -> list[tuple[Workload, Resources]]:
        """Live harvest workloads holding room, with what they hold (``uow.workloads.harvest_on_hosts``)."""
        return [(w, self.holds[w.id]) for w in sorted(self.workloads.values(), key=lambda w: (w.created_at, w.id))
                if w.id in self.holds and w.service_class is H]

    def context(self, now: datetime, *, silent: Sequence[str] = (),
                stale_after: timedelta = STALE_AFTER) -> PlacementContext:
        for name, h in self.hosts.items():
            if name not in silent:
                self.hosts[name] = replace(h, last_seen_at=now)
        hosts = []
        for h in self.hosts.values():
            on_host = [w for w in self.workloads.values() if w.host_id == h.id and w.id in self.holds]
            hosts.append(replace(h, allocated=sum((self.holds[w.id] for w in on_host), Resources()),
                                 allocated_guaranteed=sum((self.holds[w.id] for w in on_host if w.service_class is G),
                                                          Resources())))
        facts = [site_facts(s, self.offers[s.id], 52.0) for s in self.sites.values()]
        snapshot = build_snapshot([host_row(h) for h in hosts], facts, now, stale_after)
        usage: dict[tuple[str, str], tuple[Resources, int]] = {}
        group_hosts: dict[str, dict[str, int]] = {}
        for w in self.workloads.values():
            if w.host_id is None or w.is_deleted:
                continue
            key = (w.member_id, w.service_class.value)
            held, live = usage.get(key, (Resources(), 0))
            usage[key] = (held + self.holds.get(w.id, Resources()), live + 1)
            if w.group_id is not None:
                on = group_hosts.setdefault(w.group_id, {})
                on[w.host_id] = on.get(w.host_id, 0) + 1
        quotas = {m: a.quotas for m, a in agreements_in_force(self.agreements, now.date()).items()}
        location: dict[str, tuple[float, float]] = {}
        for s in self.sites.values():
            if s.latitude is not None and s.longitude is not None:
                location.setdefault(s.member_id, (s.latitude, s.longitude))
        return PlacementContext(snapshot, dict(self.members), dict(self.offerings), dict(self.groups), group_hosts,
                                usage, quotas, location)

    # Applying a plan as the services do; each host write compares the generation the plan read.

    def _claim(self, host: str, seen_generation: int) -> None:
        h = self.hosts[host]
        assert h.generation == seen_generation, f"{host} is at generation {h.generation}, not {seen_generation}"
        self.hosts[host] = replace(h, generation=h.generation + 1)

    def apply_placements(self, plan: PlacementPlan) -> World:
        for c in plan.claims:
            self._claim(c.host_id, c.seen_generation)
            self.workloads[c.workload.id] = replace(c.workload, state=S.SCHEDULED, host_id=c.host_id,
                                                    message=c.message)
            self.holds[c.workload.id] = c.resources
        for e in plan.explanations:
            self.workloads[e.workload_id] = replace(self.workloads[e.workload_id], placement=e.explanation,
                                                    message=e.message)
        return self

    def apply_reclaim(self, plan: ReclaimPlan) -> World:
        for host in plan.evictions:
            self._claim(host.host_id, host.seen_generation)
            for e in host.evictions:
                self.workloads[e.workload.id] = replace(self.workloads[e.workload.id], state=S.EVICTING,
                                                        evict_deadline=e.deadline, message=e.message)
        for c in plan.cancellations:
            self.workloads[c.workload.id] = replace(self.workloads[c.workload.id], state=S.RUNNING,
                                                    evict_deadline=None, message=c.message)
        for r in plan.replacements:
            self._claim(r.to_host, r.seen_generation)
            self.workloads[r.workload.id] = replace(self.workloads[r.workload.id], state=S.SCHEDULED,
                                                    host_id=r.to_host, evict_deadline=None, message=r.message)
            self.holds[r.workload.id] = r.resources
        return self


def place(world: World, now: datetime) -> list[str]:
    """One placement pass over every pending request, applied: the ids placed, in order."""
    plan = plan_placements(world.context(now), world.pending(), PROFILES, now)
    world.apply_placements(plan)
    return [o.workload_id for o in plan.outcomes if o.placed]


def reclaim(world: World, now: datetime, *, silent: Sequence[str] = (),
            stale_after: timedelta = STALE_AFTER) -> ReclaimPlan:
    """One reclaim pass, applied."""
    plan = plan_reclaim(world.context(now, silent=silent, stale_after=stale_after), world.held(), PROFILES, now)
    world.apply_reclaim(plan)
    return plan


def reasons(world: World, workload: str) -> tuple[tuple[str, str, str, int], ...]:
    explanation = world.workloads[workload].placement
    assert explanation is not None, f"{workload} has no placement explanation"
    return explanation.reasons


def allocated(world: World, now: datetime, host: str) -> Resources:
    snap = world.context(now).snapshot
    return Resources(*(int(v) for v in snap.allocated[:, snap.index_of[host]]))


def lender_and_borrower() -> World:
    return World().member("Drancy").member("Bobigny")


# -- placement: the scenes of tests/placement/test_placement_service.py ----------------------------------


@pytest.mark.parametrize(("now", "placed", "summary", "reason"), [
    (TUESDAY_10H, False, "1 host: 1 offer closed now", ("offer_open", "offer_closed_now", "offer closed now", 1)),
    (TUESDAY_22H, True, "1 host: 1 fit", None),
])
def test_a_nights_only_offer_refuses_at_10h_and_places_at_22h(now: datetime, placed: bool, summary: str,
                                                               reason: tuple[str, str, str, int] | None) -> None:
    world = lender_and_borrower().site("drancy", "Drancy", NIGHTS_ONLY).host("hv1", "drancy").offering("vm.small")
    wid = world.request("Bobigny", "vm.small", "w", TUESDAY_10H).id
    plan = plan_placements(world.context(now), world.pending(), PROFILES, now)
    [outcome] = plan.outcomes
    assert (outcome.workload_id, outcome.placed, outcome.host_id) == (wid, placed, "hv1" if placed else None)
    if placed:
        assert [(c.workload.id, c.host_id) for c in plan.claims] == [(wid, "hv1")]
        assert outcome.message == f"placed at drancy ({summary})" and plan.explanations == ()
    else:
        assert plan.claims == ()
        [explained] = plan.explanations
        assert explained.explanation.summary == summary and explained.explanation.reasons == (reason,)
        assert explained.explanation.decided_at == now
        assert outcome.message == explained.message == \
            f"no host can take vm.small now ({summary}); retrying as capacity frees up"


def test_the_10h_refusal_then_the_22h_placement_in_one_world() -> None:
    world = lender_and_borrower().site("drancy", "Drancy", NIGHTS_ONLY).host("hv1", "drancy").offering("vm.small")
    wid = world.request("Bobigny", "vm.small", "w", TUESDAY_10H).id
    assert place(world, TUESDAY_10H) == []
    assert world.workloads[wid].state is S.PENDING
    assert reasons(world, wid) == (("offer_open", "offer_closed_now", "offer closed now", 1),)
    assert place(world, TUESDAY_22H) == [wid]
    assert (world.workloads[wid].state, world.workloads[wid].host_id) == (S.SCHEDULED, "hv1")


def ehealth_world() -> World:
    return (World().member("Drancy").member("Bondy-hospital").member("Avicenne")
            .site("drancy", "Drancy", Offer(default_percent=50)).host("d1", "drancy")
            .site("old-hds", "Bondy-hospital", Offer(default_percent=50), certs=(HDS_EXPIRED,)).host("o1", "old-hds")
            .offering("ehealth", hds=frozenset({1, 2, 3})))


def test_ehealth_waits_while_no_site_holds_a_valid_hds_certification() -> None:
    world = ehealth_world()
    wid = world.request("Drancy", "ehealth", "e", TUESDAY_10H).id
    assert place(world, TUESDAY_22H) == []
    explanation = world.workloads[wid].placement
    assert explanation is not None
    assert explanation.summary == "2 hosts: 2 not HDS-certified (valid) for the activities asked"
    assert {r[1] for r in explanation.reasons} == {"not_hds_certified"}


@pytest.mark.parametrize(("case", "cert", "host"), [
    ("attested and valid", HDS_VALID, "a1"),
    ("expired", HDS_EXPIRED, None),
    ("only proposed: never attested", replace(HDS_VALID, attested_at=None, attested_by=None), None),
    ("not valid yet", replace(HDS_VALID, valid_from=TUESDAY_22H.date() + timedelta(days=1)), None),
    ("other activities", replace(HDS_VALID, activities=frozenset({4, 5, 6})), None),
    ("a superset of the activities", replace(HDS_VALID, activities=frozenset({1, 2, 3, 4})), "a1"),
])
def test_ehealth_lands_only_on_an_attested_valid_hds_site(case: str, cert: Certification, host: str | None) -> None:
    world = ehealth_world().site("avicenne", "Avicenne", Offer(default_percent=50), certs=(cert,))
    world.host("a1", "avicenne")
    wid = world.request("Drancy", "ehealth", "e", TUESDAY_10H).id
    [outcome] = plan_placements(world.context(TUESDAY_22H), world.pending(), PROFILES, TUESDAY_22H).outcomes
    assert outcome.host_id == host, case
    if host is None:
        assert place(world, TUESDAY_22H) == []
        assert [(r[1], r[3]) for r in reasons(world, wid)] == [("not_hds_certified", 3)]


def test_the_quota_of_the_agreement_keeps_the_second_request_pending() -> None:
    world = (lender_and_borrower().site("drancy", "Drancy", ALL_HOURS).host("hv1", "drancy")
             .offering("vm.two", vcpus=2).quota("Bobigny", harvest=Quota(vcpus=3)))
    first = world.request("Bobigny", "vm.two", "first", TUESDAY_10H).id
    second = world.request("Bobigny", "vm.two", "second", TUESDAY_10H + timedelta(seconds=1)).id
    assert place(world, TUESDAY_22H) == [first]  # 2 of 3 vCPUs used; the next 2 would make 4
    assert reasons(world, second)[0][:2] == ("quota", "quota_exceeded")


@pytest.mark.parametrize(("valid_from", "valid_to", "placed"), [
    (EPOCH.date(), None, ["w0"]),  # in force: its quota limits
    (EPOCH.date(), TUESDAY_22H.date() - timedelta(days=1), ["w0", "w1"]),  # ended: no quota
    (TUESDAY_22H.date() + timedelta(days=1), None, ["w0", "w1"]),  # not yet in force
])
def test_only_the_agreement_in_force_limits(valid_from: date, valid_to: date | None, placed: list[str]) -> None:
    world = (lender_and_borrower().site("drancy", "Drancy", ALL_HOURS).host("hv1", "drancy")
             .offering("vm.small"))
    world.agreements.append(Agreement("a", "Bobigny", AgreementKind.PPP, valid_from, valid_to,
                                      {"harvest": Quota(workloads=1)}))
    for i in range(2):
        world.request("Bobigny", "vm.small", f"w{i}", TUESDAY_10H + timedelta(seconds=i))
    assert place(world, TUESDAY_22H) == placed


def test_an_anti_affinity_group_spreads_over_hosts() -> None:
    world = (lender_and_borrower().site("drancy", "Drancy", ALL_HOURS).host("hv1", "drancy").host("hv2", "drancy")
             .offering("vm.small").group("web", "Bobigny", GroupPolicy.DIFFERENT_HOST))
    ids = [world.request("Bobigny", "vm.small", f"web{i}", TUESDAY_10H + timedelta(seconds=i), group="web").id
           for i in range(3)]
    assert place(world, TUESDAY_22H) == ids[:2]  # the third has no host left that the group does not already use
    assert {world.workloads[w].host_id for w in ids[:2]} == {"hv1", "hv2"}
    assert reasons(world, ids[2])[0][1] == "group_host_taken"


@pytest.mark.parametrize(("policy", "hosts", "third"), [
    (GroupPolicy.SAME_HOST, ["hv1", "hv1", "hv1"], None),
    (GroupPolicy.DIFFERENT_HOST, ["hv1", "hv2", "mt1"], None),  # three hosts: room for three
    (GroupPolicy.DIFFERENT_SITE, ["hv1", "mt1", None], "group_site_taken"),
])
def test_group_policies_in_one_pass(policy: GroupPolicy, hosts: list[str | None], third: str | None) -> None:
    world = (lender_and_borrower().member("Montreuil").site("drancy", "Drancy", ALL_HOURS)
             .host("hv1", "drancy").host("hv2", "drancy").site("montreuil", "Montreuil", ALL_HOURS)
             .host("mt1", "montreuil").offering("vm.small").group("g", "Bobigny", policy))
    ids = [world.request("Bobigny", "vm.small", f"g{i}", TUESDAY_10H + timedelta(seconds=i), group="g").id
           for i in range(3)]
    plan = plan_placements(world.context(TUESDAY_22H), world.pending(), PROFILES, TUESDAY_22H)
    assert [o.host_id for o in plan.outcomes] == hosts
    assert set(plan.context.group_hosts["g"]) == {h for h in hosts if h}
    if third is not None:
        [explained] = plan.explanations
        assert (explained.workload_id, explained.explanation.reasons[0][1]) == (ids[2], third)


def test_the_owners_own_load_is_respected() -> None:
    world = lender_and_borrower().site("drancy", "Drancy", ALL_HOURS)
    # 16 cores × 4, but the owner's own VMs use 15 of them: 1 × 4 = 4 vCPU left.
    world.host("hv1", "drancy", vcpus=16, owner=Resources(15, 1024)).offering("vm.four", vcpus=4)
    world.offering("vm.five", vcpus=5)
    five = world.request("Bobigny", "vm.five", "five", TUESDAY_10H).id
    four = world.request("Bobigny", "vm.four", "four", TUESDAY_10H + timedelta(seconds=1)).id
    assert place(world, TUESDAY_22H) == [four]
    assert reasons(world, five)[0][1] == "owner_needs_capacity"


def test_placement_fills_in_arrival_order_and_counts_guaranteed_apart() -> None:
    world = (lender_and_borrower().site("drancy", "Drancy", Offer(committed_percent=25, default_percent=50))
             .host("hv1", "drancy", vcpus=16, memory_mib=65536)  # 64 vCPU after the 4.0 ratio
             .offering("g8", vcpus=8, service_class=G).offering("h8", vcpus=8))
    # Committed 25 % of 64 = 16 vCPU for guaranteed; 50 % = 32 lent in all.
    g = [world.request("Bobigny", "g8", f"g{i}", TUESDAY_10H + timedelta(seconds=i)).id for i in range(3)]
    h = [world.request("Bobigny", "h8", f"h{i}", TUESDAY_10H + timedelta(seconds=10 + i)).id for i in range(3)]
    plan = plan_placements(world.context(TUESDAY_22H), world.pending(), PROFILES, TUESDAY_22H)
    assert [c.workload.id for c in plan.claims] == g[:2] + h[:2]
    snap = plan.context.snapshot
    assert (snap.allocated[VCPU, 0], snap.allocated_guaranteed[VCPU, 0]) == (32, 16)
    refused = {e.workload_id: e.explanation.reasons[0][1] for e in plan.explanations}
    assert refused == {g[2]: "committed_share_used_up", h[2]: "lent_share_used_up"}
    world.apply_placements(plan)
    assert allocated(world, TUESDAY_22H, "hv1").vcpus == 32  # the world applied agrees with the plan's context


def test_a_burst_above_the_workload_quota_places_up_to_the_limit() -> None:
    """Pending requests hold nothing: a burst of three under a limit of two places two, not none."""
    world = (lender_and_borrower().site("drancy", "Drancy", ALL_HOURS).host("hv1", "drancy").offering("vm.small")
             .quota("Bobigny", harvest=Quota(workloads=2)))
    ids = [world.request("Bobigny", "vm.small", f"w{i}", TUESDAY_10H + timedelta(seconds=i)).id for i in range(3)]
    assert place(world, TUESDAY_22H) == ids[:2]
    assert reasons(world, ids[2])[0][1] == "quota_exceeded"


@pytest.mark.parametrize("chunk", [1, 2, 3, 4])
def test_requests_nothing_can_take_never_hold_back_newer_ones(chunk: int) -> None:
    """Three requests pinned to a region without a site, then one that fits: planned in chunks of ``chunk``, each
    on the context the one before left (as ``place_pending`` does with its claim batches)."""
    world = lender_and_borrower().site("drancy", "Drancy", ALL_HOURS).host("hv1", "drancy").offering("vm.small")
    # Pinned to Auvergne-Rhône-Alpes (region 84), where nobody lends; Drancy is in Île-de-France (11).
    stuck = [world.request("Bobigny", "vm.small", f"stuck{i}", TUESDAY_10H + timedelta(seconds=i),
                           residency=Residency(regions=("84",))).id for i in range(3)]
    fits = world.request("Bobigny", "vm.small", "fits", TUESDAY_10H + timedelta(seconds=10)).id
    ctx, placed, explained = world.context(TUESDAY_22H), [], {}
    pending = world.pending()
    for start in range(0, len(pending), chunk):
        plan = plan_placements(ctx, pending[start:start + chunk], PROFILES, TUESDAY_22H)
        placed += [o.workload_id for o in plan.outcomes if o.placed]
        explained.update({e.workload_id: e.explanation.reasons[0][1] for e in plan.explanations})
        ctx = plan.context
    assert placed == [fits]
    assert explained == dict.fromkeys(stuck, "outside_residency")


# -- placement: the plan itself ---------------------------------------------------------------------------


def test_the_returned_context_carries_the_claims() -> None:
    world = (lender_and_borrower().site("drancy", "Drancy", ALL_HOURS)
             .host("hv1", "drancy", vcpus=1, memory_mib=8192, generation=7)  # 4 vCPU, 8 GiB
             .offering("vm.half", vcpus=2, memory_mib=4096, disk_gib=10).group("web", "Bobigny", GroupPolicy.SAME_HOST))
    ctx = world.context(TUESDAY_22H)
    first = [world.request("Bobigny", "vm.half", f"w{i}", TUESDAY_10H + timedelta(seconds=i), group="web")
             for i in range(2)]
    plan = plan_placements(ctx, first, PROFILES, TUESDAY_22H)
    assert [(c.host_id, c.seen_generation, c.resources) for c in plan.claims] == \
        [("hv1", 7, Resources(2, 4096, 10)), ("hv1", 8, Resources(2, 4096, 10))]  # consecutive generations
    snap = plan.context.snapshot
    assert int(snap.generations[0]) == 9
    assert (snap.allocated[VCPU, 0], snap.allocated[MEM, 0], snap.free[MEM, 0]) == (4, 8192, 0)
    assert plan.context.usage[("Bobigny", "harvest")] == (Resources(4, 8192, 20), 2)
    assert plan.context.group_hosts["web"] == {"hv1": 2}
    # The context given is left as it was: a batch whose claims roll back goes on from it.
    assert int(ctx.snapshot.generations[0]) == 7 and ctx.snapshot.allocated[VCPU, 0] == 0
    assert ("Bobigny", "harvest") not in ctx.usage and "web" not in ctx.group_hosts

    third = world.request("Bobigny", "vm.half", "w2", TUESDAY_10H + timedelta(seconds=2))
    after = plan_placements(plan.context, [third], PROFILES, TUESDAY_22H)
    assert after.claims == () and after.outcomes[0].placed is False
    assert after.explanations[0].explanation.reasons[0][1] == "insufficient_vcpus"
    again = plan_placements(ctx, [third], PROFILES, TUESDAY_22H)  # on the context before the claims: room
    assert [(c.host_id, c.seen_generation) for c in again.claims] == [("hv1", 7)]


def test_claims_apply_in_order_behind_each_hosts_generation() -> None:
    """Claims on two hosts: each one's generation is its host's, counting the claims before it on that host."""
    world = (lender_and_borrower().site("drancy", "Drancy", ALL_HOURS)
             .host("hv1", "drancy", vcpus=1, generation=3).host("hv2", "drancy", vcpus=1, generation=40)
             .offering("vm.two", vcpus=2))
    for i in range(4):
        world.request("Bobigny", "vm.two", f"w{i}", TUESDAY_10H + timedelta(seconds=i))
    plan = plan_placements(world.context(TUESDAY_22H), world.pending(), PROFILES, TUESDAY_22H)
    by_host: dict[str, list[int]] = {}
    for c in plan.claims:
        by_host.setdefault(c.host_id, []).append(c.seen_generation)
    assert by_host == {"hv1": [3, 4], "hv2": [40, 41]}
    world.apply_placements(plan)  # every compare-and-swap finds its generation
    assert (world.hosts["hv1"].generation, world.hosts["hv2"].generation) == (5, 42)


CLOSED_SUMMARY = "1 host: 1 offer closed now"


@pytest.mark.parametrize(("last", "listed"), [
    (None, True),  # never explained
    (CLOSED_SUMMARY, False),  # the same summary: nothing to write
    ("1 host: 1 lent share used up", True),  # another summary
    ("no host has joined the federation yet", True),
])
def test_explanations_list_only_the_workloads_whose_summary_changed(last: str | None, listed: bool) -> None:
    world = lender_and_borrower().site("drancy", "Drancy", NIGHTS_ONLY).host("hv1", "drancy").offering("vm.small")
    w = world.request("Bobigny", "vm.small", "w", TUESDAY_10H)
    if last is not None:
        w = replace(w, placement=PlacementExplanation(last, (), EPOCH))
    plan = plan_placements(world.context(TUESDAY_10H), [w], PROFILES, TUESDAY_10H)
    assert [e.workload_id for e in plan.explanations] == (["w"] if listed else [])
    assert [(o.workload_id, o.placed) for o in plan.outcomes] == [("w", False)]  # an outcome either way


def test_a_second_pass_explains_again_only_what_changed() -> None:
    world = lender_and_borrower().site("drancy", "Drancy", NIGHTS_ONLY).host("hv1", "drancy").offering("vm.small")
    world.request("Bobigny", "vm.small", "a", TUESDAY_10H)
    world.request("Bobigny", "vm.small", "b", TUESDAY_10H + timedelta(seconds=1), residency=Residency(regions=("84",)))
    assert place(world, TUESDAY_10H) == []
    assert {w.id: w.placement.summary for w in world.pending() if w.placement} == \
        {"a": CLOSED_SUMMARY, "b": CLOSED_SUMMARY}
    later = TUESDAY_10H + timedelta(minutes=1)
    assert plan_placements(world.context(later), world.pending(), PROFILES, later).explanations == ()
    # A second site opens, outside region 84: a's summary changes and so does b's; both are listed again.
    world.member("Montreuil").site("montreuil", "Montreuil", NIGHTS_ONLY).host("mt1", "montreuil")
    plan = plan_placements(world.context(later), world.pending(), PROFILES, later)
    assert {e.workload_id: e.explanation.summary for e in plan.explanations} == \
        {"a": "2 hosts: 2 offer closed now", "b": "2 hosts: 2 offer closed now"}


# -- reclaim: the scenes of tests/placement/test_reclaim_service.py --------------------------------------


def lender_with_four_workloads() -> World:
    """hv1 (16 GiB) at night holds three 4 GiB harvest workloads and one 2 GiB guaranteed one, placed by a
    placement pass at 22:00."""
    world = (lender_and_borrower().site("drancy", "Drancy", DAY_AND_NIGHT)
             .host("hv1", "drancy", vcpus=16, memory_mib=16384)
             .offering("vm.h", vcpus=1, memory_mib=4096, disk_gib=0)
             .offering("vm.g", vcpus=1, memory_mib=2048, disk_gib=0, service_class=G))
    for i, name in enumerate(["oldest", "middle", "newest"]):
        world.request("Bobigny", "vm.h", name, TUESDAY_22H + timedelta(minutes=i))
    world.request("Bobigny", "vm.g", "safe", TUESDAY_22H)
    assert sorted(place(world, TUESDAY_22H)) == ["middle", "newest", "oldest", "safe"]
    assert allocated(world, TUESDAY_22H, "hv1") == Resources(4, 14336, 0)
    return world


def test_a_closing_window_evicts_the_fewest_newest_harvest_workloads() -> None:
    world = lender_with_four_workloads()
    generation = world.hosts["hv1"].generation
    # By day hv1 lends 8 GiB: 14 GiB allocated is 6 GiB over, so two 4 GiB workloads must go.
    plan = reclaim(world, WEDNESDAY_10H)
    [host] = plan.evictions
    assert (host.host_id, host.seen_generation, host.short) == ("hv1", generation, "6144 memory")
    assert sorted(e.workload.id for e in host.evictions) == ["middle", "newest"]
    deadline = WEDNESDAY_10H + timedelta(seconds=120)
    for e in host.evictions:
        assert e.deadline == deadline
        # The workload's message is its borrower's: the lending site, not the lender's host.
        assert e.message == ("the owner of its host at drancy takes it back (its offer lends less now): stops at "
                             "2026-12-02 09:02:00 UTC (120 s notice) unless re-placed first")
        assert "hv1" not in e.message
    assert plan.cancellations == () and plan.replacements == ()  # nowhere else to go
    assert [w.state for w in map(world.workloads.get, ("oldest", "safe"))] == [S.SCHEDULED, S.SCHEDULED]
    # Evicting workloads still hold their room until they are stopped or moved.
    assert allocated(world, WEDNESDAY_10H, "hv1") == Resources(4, 14336, 0)


def test_a_second_plan_right_after_evicts_nothing_more() -> None:
    """The in-flight deficit: the evictions under way (EVICTING, with their deadline) already free enough."""
    world = lender_with_four_workloads()
    reclaim(world, WEDNESDAY_10H)
    assert {w.id: w.evict_deadline for w in world.workloads.values() if w.state is S.EVICTING} == \
        dict.fromkeys(["middle", "newest"], WEDNESDAY_10H + timedelta(seconds=120))
    again = reclaim(world, WEDNESDAY_10H + timedelta(seconds=5))
    assert not again and again.evictions == again.cancellations == again.replacements == ()
    assert world.workloads["newest"].evict_deadline == WEDNESDAY_10H + timedelta(seconds=120)


@pytest.mark.parametrize(("under_way", "evicted"), [
    ((), ["middle", "newest"]),  # nothing under way: two go
    (("newest",), ["middle"]),  # one under way (4 GiB) of the 6 GiB: one more
    (("oldest",), ["newest"]),  # the one under way need not be the newest: the newest of the rest goes
    (("newest", "middle"), []),  # enough under way
    (("newest", "middle", "oldest"), []),  # more than enough
])
def test_the_in_flight_deficit(under_way: tuple[str, ...], evicted: list[str]) -> None:
    world = lender_with_four_workloads()
    for name in under_way:
        world.workloads[name] = replace(world.workloads[name], state=S.EVICTING,
                                        evict_deadline=WEDNESDAY_10H + timedelta(seconds=60))
    plan = plan_reclaim(world.context(WEDNESDAY_10H), world.held(), PROFILES, WEDNESDAY_10H)
    assert sorted(e.workload.id for h in plan.evictions for e in h.evictions) == evicted
    assert plan.cancellations == ()


@pytest.mark.parametrize("quota", [None, Quota(workloads=3, memory_mib=12288)], ids=["no quota", "quota at its limit"])
def test_evicted_workloads_move_to_another_members_surplus(quota: Quota | None) -> None:
    """The quota counts what a moving workload holds: at its limit, Bobigny's workloads still move."""
    world = lender_with_four_workloads()
    if quota is not None:
        world.quota("Bobigny", harvest=quota)
    reclaim(world, WEDNESDAY_10H)
    world.member("Montreuil").site("montreuil", "Montreuil", ALL_HOURS)
    world.host("mt1", "montreuil", vcpus=8, memory_mib=6144, generation=11)  # room for one of them

    plan = reclaim(world, WEDNESDAY_10H + timedelta(seconds=1))
    assert plan.evictions == () and plan.cancellations == ()
    [move] = plan.replacements
    # Equal deadlines: the smaller id first ("middle" < "newest").
    assert (move.workload.id, move.from_host, move.to_host, move.seen_generation) == ("middle", "hv1", "mt1", 11)
    assert move.resources == Resources(1, 4096, 0)
    assert move.message.startswith("re-placed at montreuil (") and "mt1" not in move.message
    assert move.message.endswith("as the owner of its host at drancy takes it back: starting afresh there")
    moved = world.workloads["middle"]
    assert (moved.state, moved.host_id, moved.evict_deadline) == (S.SCHEDULED, "mt1", None)
    assert world.workloads["newest"].state is S.EVICTING  # no room anywhere: it waits for its deadline
    assert allocated(world, WEDNESDAY_10H, "hv1") == Resources(3, 10240, 0)
    assert allocated(world, WEDNESDAY_10H, "mt1") == Resources(1, 4096, 0)


def test_the_workloads_just_chosen_are_re_placed_in_the_same_plan() -> None:
    """With room elsewhere already, one plan evicts and re-places: the moves' claims on mt1 expect its
    generation, the second one counting the first (the world checks every compare-and-swap)."""
    world = lender_with_four_workloads()
    world.member("Montreuil").site("montreuil", "Montreuil", ALL_HOURS).host("mt1", "montreuil", memory_mib=65536)
    plan = reclaim(world, WEDNESDAY_10H)
    assert sorted(e.workload.id for e in plan.evictions[0].evictions) == ["middle", "newest"]
    assert sorted((r.workload.id, r.to_host) for r in plan.replacements) == [("middle", "mt1"), ("newest", "mt1")]
    assert [r.seen_generation for r in plan.replacements] == [0, 1]
    assert all(r.workload.state is S.EVICTING for r in plan.replacements)  # as the store will have them
    assert allocated(world, WEDNESDAY_10H, "hv1") == Resources(2, 6144, 0)


def test_a_workload_deleted_while_evicting_is_not_re_placed() -> None:
    world = lender_with_four_workloads()
    reclaim(world, WEDNESDAY_10H)
    world.workloads["middle"] = replace(world.workloads["middle"], desired=DesiredPower.ABSENT)
    world.member("Montreuil").site("montreuil", "Montreuil", ALL_HOURS).host("mt1", "montreuil", memory_mib=65536)
    plan = reclaim(world, WEDNESDAY_10H + timedelta(seconds=1))
    assert [r.workload.id for r in plan.replacements] == ["newest"]


def test_eviction_is_called_off_when_the_owner_no_longer_needs_the_room() -> None:
    world = lender_with_four_workloads()
    reclaim(world, WEDNESDAY_10H)
    # The lender widens its day share to 100 % before the deadline.
    world.offers["drancy"] = Offer(committed_percent=25, default_percent=100, reclaim_notice_s=120)
    plan = reclaim(world, WEDNESDAY_10H + timedelta(seconds=30))
    assert plan.evictions == () and plan.replacements == ()
    assert sorted((c.workload.id, c.host_id) for c in plan.cancellations) == [("middle", "hv1"), ("newest", "hv1")]
    for name in ("newest", "middle"):
        w = world.workloads[name]
        assert (w.state, w.evict_deadline) == (S.RUNNING, None)
        assert w.message == "eviction called off: the owner of its host at drancy no longer needs the room"


def test_owner_load_growth_evicts_and_guaranteed_work_stays() -> None:
    world = lender_with_four_workloads()
    # The owner starts its own VMs: 4 GiB of them. 16 − 4 = 12 GiB left for 14 GiB allocated: one must go.
    world.report("hv1", owner=Resources(2, 4096))
    plan = reclaim(world, TUESDAY_22H + timedelta(minutes=30))
    [host] = plan.evictions
    assert [e.workload.id for e in host.evictions] == ["newest"] and host.short == "2048 memory"
    assert "(its own load grew)" in host.evictions[0].message
    assert world.workloads["safe"].state is S.SCHEDULED


def test_a_host_whose_agent_is_silent_is_left_alone() -> None:
    world = lender_with_four_workloads()
    plan = reclaim(world, WEDNESDAY_10H, silent=("hv1",), stale_after=timedelta(minutes=5))
    assert not plan  # its owner's load is unknown and its agent would not hear of it
    # The same host reporting: two evictions.
    assert len(reclaim(world, WEDNESDAY_10H).evictions[0].evictions) == 2


# -- reclaim: several hosts in one plan -------------------------------------------------------------------


def federation_at_wednesday_10h() -> World:
    """Four 16 GiB hosts, each holding 4 GiB harvest workloads (Bobigny's):

    - short:  drancy's night window has closed (50 % by day): 3 harvest + 2 GiB guaranteed = 14 GiB, 6 GiB over;
    - owner:  montreuil lends all hours, but its owner now runs 6 GiB of its own: 12 GiB held, 10 GiB left;
    - fine:   montreuil, full to the byte (16 GiB), one of its four evicting since an earlier owner's spike;
    - silent: as short, but its agent last reported at 22:00.
    """
    world = (lender_and_borrower().member("Montreuil")
             .site("drancy", "Drancy", DAY_AND_NIGHT)
             .site("montreuil", "Montreuil", Offer(default_percent=100, reclaim_notice_s=600))
             .offering("vm.h", vcpus=1, memory_mib=4096, disk_gib=0)
             .offering("vm.g", vcpus=1, memory_mib=2048, disk_gib=0, service_class=G))
    world.host("short", "drancy", memory_mib=16384, generation=5)
    world.host("silent", "drancy", memory_mib=16384, seen=TUESDAY_22H, generation=6)
    world.host("owner", "montreuil", memory_mib=16384, owner=Resources(0, 6144), generation=7)
    world.host("fine", "montreuil", memory_mib=16384, generation=8)
    at = TUESDAY_22H
    for host, count in (("short", 3), ("silent", 3), ("owner", 3), ("fine", 4)):
        for i in range(count):
            world.placed("Bobigny", "vm.h", f"{host}-{i}", host, at + timedelta(minutes=i))
    for host in ("short", "silent"):
        world.placed("Bobigny", "vm.g", f"{host}-g", host, at + timedelta(minutes=9))  # the newest: guaranteed
    world.workloads["fine-1"] = replace(world.workloads["fine-1"], state=S.EVICTING,
                                        evict_deadline=WEDNESDAY_10H + timedelta(seconds=30))
    return world


MULTI_HOST = [
    # host, seen generation, evicted, deadline after now, why, short of, called off
    ("short", 5, ["short-1", "short-2"], 120, "its offer lends less now", "6144 memory", []),
    ("owner", 7, ["owner-2"], 600, "its own load grew", "2048 memory", []),
    ("fine", None, [], None, None, None, ["fine-1"]),
    ("silent", None, [], None, None, None, []),
]


@pytest.fixture(scope="module")
def multi_host_plan() -> ReclaimPlan:
    world = federation_at_wednesday_10h()
    return plan_reclaim(world.context(WEDNESDAY_10H, silent=("silent",), stale_after=timedelta(minutes=5)),
                        world.held(), PROFILES, WEDNESDAY_10H)


@pytest.mark.parametrize(("host", "generation", "evicted", "notice", "why", "short", "called_off"), MULTI_HOST,
                         ids=[row[0] for row in MULTI_HOST])
def test_several_hosts_in_one_plan(multi_host_plan: ReclaimPlan, host: str, generation: int | None,
                                   evicted: list[str], notice: int | None, why: str | None, short: str | None,
                                   called_off: list[str]) -> None:
    mine = [h for h in multi_host_plan.evictions if h.host_id == host]
    if not evicted:
        assert mine == []
    else:
        [h] = mine
        assert (h.seen_generation, h.short) == (generation, short)
        assert sorted(e.workload.id for e in h.evictions) == evicted
        assert notice is not None and why is not None
        for e in h.evictions:
            assert e.deadline == WEDNESDAY_10H + timedelta(seconds=notice)
            site = "drancy" if host == "short" else "montreuil"
            assert e.message.startswith(f"the owner of its host at {site} takes it back ({why}): ")
            assert f"({notice} s notice)" in e.message
    assert [(c.workload.id, c.host_id) for c in multi_host_plan.cancellations if c.host_id == host] == \
        [(w, host) for w in called_off]


def test_several_hosts_in_one_plan_as_a_whole(multi_host_plan: ReclaimPlan) -> None:
    assert [h.host_id for h in multi_host_plan.evictions] == ["owner", "short"]  # in host order
    evicted = {e.workload.id for h in multi_host_plan.evictions for e in h.evictions}
    assert not evicted & {"short-g", "silent-g"}  # guaranteed work is never evicted
    assert multi_host_plan.replacements == ()  # every other host is short, full or silent
    [c] = multi_host_plan.cancellations
    assert c.message == "eviction called off: the owner of its host at montreuil no longer needs the room"
    ctx = multi_host_plan.context
    assert ctx is not None  # the evictions moved their hosts' generations, and nothing else
    assert {h: int(ctx.snapshot.generations[ctx.snapshot.index_of[h]]) for h in ("short", "silent", "owner", "fine")} \
        == {"short": 6, "silent": 6, "owner": 8, "fine": 8}
    before = federation_at_wednesday_10h().context(WEDNESDAY_10H).snapshot
    assert np.array_equal(ctx.snapshot.allocated, before.allocated)


def test_an_eviction_under_way_on_a_silent_host_is_not_called_off() -> None:
    """``host_deficits`` reads a silent host as short of nothing, and ``plan_reclaim`` calls off every eviction on a
    host short of nothing. Its agent keeps the deadline and stops the workload anyway, but the control plane
    has set it running again ("no longer needs the room"), and wants it running on the owner's host."""
    world = lender_with_four_workloads()
    reclaim(world, WEDNESDAY_10H)
    # A minute later, before the deadline (10:02), hv1's agent has not reported for longer than 30 s.
    plan = reclaim(world, WEDNESDAY_10H + timedelta(minutes=1), silent=("hv1",), stale_after=timedelta(seconds=30))
    assert plan.cancellations == ()


# -- resize: the cases of tests/api/test_workload_resize.py ----------------------------------------------


def stopped_on_drancy_h1(**host: object) -> World:
    """The API tests' region: drancy-mairie lends 50 % at all hours of two 16-core, 64 GiB, 1000 GiB hosts
    (32 vCPU, 32768 MiB, 500 GiB lent each; here 25 % of it committed, for the guaranteed cases); Bobigny's
    vm-small (2 vCPU, 4 GiB, 20 GiB) stopped on drancy-h1, at generation 3."""
    world = (World().member("Drancy").member("Bobigny").member("Pantin")
             .site("drancy-mairie", "Drancy", Offer(committed_percent=25, default_percent=50))
             .host("drancy-h1", "drancy-mairie", 16, 65536, 1000, generation=3, **host)  # type: ignore[arg-type]
             .host("drancy-h2", "drancy-mairie", 16, 65536, 1000)
             .offering("vm-small", 2, 4096, 20).offering("g-small", 2, 4096, 20, service_class=G))
    world.placed("Bobigny", "vm-small", "compta", "drancy-h1", TUESDAY_10H, state=S.STOPPED,
                 desired=DesiredPower.STOPPED)
    return world


RESIZES = [
    # case, new size (vcpus, memory, disk), owner's load on drancy-h1, another borrower's holding there, refusal
    ("larger", (8, 16384, 40), Resources(), None, None),
    ("the whole lent memory: its own 4 GiB back", (8, 32768, 40), Resources(), None, None),
    ("more memory than lent", (8, 65536, 40), Resources(), None, "lent share used up"),
    ("the whole host", (64, 65536, 40), Resources(), None, "lent share used up"),
    ("more than the host", (65, 4096, 40), Resources(), None, "insufficient vCPU"),
    ("what the owner leaves: its own 2 vCPU back", (8, 4096, 20), Resources(14, 0), None, None),
    ("more than the owner leaves", (10, 4096, 20), Resources(14, 0), None, "owner's own load leaves no room"),
    ("the rest beside another borrower", (2, 4096, 20), Resources(), Resources(0, 28672, 0), None),
    ("more than the rest beside another borrower", (2, 8192, 20), Resources(), Resources(0, 28672, 0),
     "lent share used up"),
]


@pytest.mark.parametrize(("case", "size", "owner", "other", "refusal"), RESIZES, ids=[r[0] for r in RESIZES])
def test_resize_on_its_host_counts_its_own_allocation_as_free(case: str, size: tuple[int, int, int],
                                                              owner: Resources, other: Resources | None,
                                                              refusal: str | None) -> None:
    world = stopped_on_drancy_h1(owner=owner).offering("new", *size)
    if other is not None:
        world.offering("other", *other.as_tuple()[:3])
        world.placed("Pantin", "other", "theirs", "drancy-h1", TUESDAY_10H)
    ctx = world.context(TUESDAY_22H)
    plan = plan_resize(ctx, world.workloads["compta"], world.offerings["vm-small"], world.offerings["new"], PROFILES)
    assert (plan.host_id, plan.seen_generation, plan.refusal) == ("drancy-h1", 3, refusal)
    # The context is not changed by the resize's freeing: a claim decided on it compares the real generation.
    assert ctx.snapshot.allocated[MEM, ctx.snapshot.index_of["drancy-h1"]] == 4096 + (other.memory_mib if other else 0)


def test_resize_fits_only_because_its_own_room_is_counted_free() -> None:
    """The same size as a new request does not fit on drancy-h1: the room the resize uses is its own."""
    world = stopped_on_drancy_h1().offering("vm-lent", 8, 32768, 40)
    ctx = world.context(TUESDAY_22H)
    assert plan_resize(ctx, world.workloads["compta"], world.offerings["vm-small"], world.offerings["vm-lent"],
                       PROFILES).refusal is None
    new = world.request("Bobigny", "vm-lent", "new", TUESDAY_22H)
    [outcome] = plan_placements(ctx, [new], PROFILES, TUESDAY_22H).outcomes
    assert outcome.host_id == "drancy-h2"  # drancy-h1 has only 28 GiB of lent memory left for it


@pytest.mark.parametrize(("quota", "refusal"), [
    (Quota(vcpus=8), None),  # 2 held, freed, then 8: at the limit
    (Quota(vcpus=7), "borrower's quota reached"),
    (Quota(workloads=1), None),  # the workload itself is not counted twice
    (Quota(memory_mib=16384), None),
    (Quota(memory_mib=16383), "borrower's quota reached"),
])
def test_resize_quota_counts_the_old_size_as_freed(quota: Quota, refusal: str | None) -> None:
    world = stopped_on_drancy_h1().offering("vm-large", 8, 16384, 40).quota("Bobigny", harvest=quota)
    plan = plan_resize(world.context(TUESDAY_22H), world.workloads["compta"], world.offerings["vm-small"],
                       world.offerings["vm-large"], PROFILES)
    assert plan.refusal == refusal


@pytest.mark.parametrize(("size", "refusal"), [
    ((4, 16384, 20), None),  # committed 25 % of 65536 MiB = 16384: its own 4 GiB back
    ((4, 16385, 20), "committed share used up"),
])
def test_resize_of_guaranteed_work_stays_in_the_committed_share(size: tuple[int, int, int],
                                                                refusal: str | None) -> None:
    world = stopped_on_drancy_h1().offering("g-new", *size, service_class=G)
    world.placed("Bobigny", "g-small", "safe", "drancy-h1", TUESDAY_10H, state=S.STOPPED, desired=DesiredPower.STOPPED)
    plan = plan_resize(world.context(TUESDAY_22H), world.workloads["safe"], world.offerings["g-small"],
                       world.offerings["g-new"], PROFILES)
    assert plan.refusal == refusal


@pytest.mark.parametrize("policy", [
    GroupPolicy.SAME_HOST,
    GroupPolicy.DIFFERENT_HOST,  # the workload itself used to keep itself off its own host
    GroupPolicy.DIFFERENT_SITE,  # and off its own site
])
def test_resize_of_a_workload_in_a_placement_group(policy: GroupPolicy) -> None:
    """Alone in its group: whatever the policy, the only workload the group holds on that host is itself."""
    world = stopped_on_drancy_h1().offering("vm-large", 8, 16384, 40).group("g", "Bobigny", policy)
    world.workloads["compta"] = replace(world.workloads["compta"], group_id="g")
    plan = plan_resize(world.context(TUESDAY_22H), world.workloads["compta"], world.offerings["vm-small"],
                       world.offerings["vm-large"], PROFILES)
    assert plan.refusal is None
