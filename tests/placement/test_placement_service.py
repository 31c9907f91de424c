"""Placement through the service and the store: calendars, certifications, explanations, quotas, groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from civicloud.clock import random_ids as new_id
from civicloud.domain import GroupPolicy, Offer, PlacementGroup, Quota, Resources, WorkloadState
from civicloud.services.placement import PlacementSettings, place_pending

from placement_scene import HDS_EXPIRED, HDS_VALID, NIGHTS_ONLY, Scene

TUESDAY_10H = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Paris
TUESDAY_22H = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 22:00 in Paris
SETTINGS = PlacementSettings()


def place(scene: Scene, now: datetime) -> list[str]:
    scene.at(now)
    return [o.workload_id for o in place_pending(scene.uow_factory, SETTINGS) if o.placed]


def test_nights_only_offer_refuses_at_10h_and_places_at_22h(scene: Scene) -> None:
    """Drancy lends only at night: a harvest request at 10:00 waits, and is placed at 22:00 the same day."""
    scene.member("Drancy")
    scene.member("Bobigny")
    scene.site("drancy", "Drancy", NIGHTS_ONLY)
    scene.host("hv1", "drancy")
    scene.offering("vm.small")
    wid = scene.workload("Bobigny", "vm.small")

    assert place(scene, TUESDAY_10H) == []
    pending = scene.get(wid)
    assert pending.state is WorkloadState.PENDING
    assert pending.placement is not None and pending.placement.summary == "1 host: 1 offer closed now"
    assert pending.placement.reasons == (("offer_open", "offer_closed_now", "offer closed now", 1),)

    assert place(scene, TUESDAY_22H) == [wid]
    placed = scene.get(wid)
    assert placed.state is WorkloadState.SCHEDULED and placed.host_id == scene.hosts["hv1"]


def test_ehealth_lands_only_on_a_valid_hds_site(scene: Scene) -> None:
    scene.member("Drancy")
    scene.member("Avicenne")
    scene.member("Bondy-hospital")
    scene.site("drancy", "Drancy", Offer(default_percent=50))
    scene.site("old-hds", "Bondy-hospital", Offer(default_percent=50), certs=(HDS_EXPIRED,))
    scene.host("d1", "drancy")
    scene.host("o1", "old-hds")
    scene.offering("ehealth", hds=frozenset({1, 2, 3}))
    wid = scene.workload("Drancy", "ehealth")

    assert place(scene, TUESDAY_22H) == []
    explanation = scene.get(wid).placement
    assert explanation is not None
    assert explanation.summary == "2 hosts: 2 not HDS-certified (valid) for the activities asked"
    assert {r[1] for r in explanation.reasons} == {"not_hds_certified"}

    scene.site("avicenne", "Avicenne", Offer(default_percent=50), certs=(HDS_VALID,))
    scene.host("a1", "avicenne")
    assert place(scene, TUESDAY_22H) == [wid]
    assert scene.get(wid).host_id == scene.hosts["a1"]


def test_quota_from_the_agreement_keeps_the_request_pending(scene: Scene) -> None:
    from civicloud.domain import Agreement, AgreementKind

    scene.member("Drancy")
    bobigny = scene.member("Bobigny")
    scene.site("drancy", "Drancy", Offer(default_percent=100))
    scene.host("hv1", "drancy")
    scene.offering("vm.two", vcpus=2)
    with scene.uow_factory() as uow:
        uow.agreements.add(Agreement(new_id(), bobigny.id, AgreementKind.MUTUALISATION_CONVENTION,
                                     datetime(2026, 1, 1).date(), None, {"harvest": Quota(vcpus=3)}))
        uow.commit()
    first, second = scene.workload("Bobigny", "vm.two"), scene.workload("Bobigny", "vm.two")
    assert place(scene, TUESDAY_22H) == [first]  # 2 of 3 vCPUs used; the next 2 would make 4
    explanation = scene.get(second).placement
    assert explanation is not None and explanation.reasons[0][:2] == ("quota", "quota_exceeded")


def test_anti_affinity_group_spreads_over_hosts(scene: Scene) -> None:
    scene.member("Drancy")
    bobigny = scene.member("Bobigny")
    scene.site("drancy", "Drancy", Offer(default_percent=100))
    for name in ("hv1", "hv2"):
        scene.host(name, "drancy")
    scene.offering("vm.small")
    group = PlacementGroup(new_id(), bobigny.id, "web", GroupPolicy.DIFFERENT_HOST, TUESDAY_10H)
    with scene.uow_factory() as uow:
        uow.groups.add(group)
        uow.commit()
    ids = [scene.workload("Bobigny", "vm.small", f"web{i}", at=TUESDAY_10H + timedelta(seconds=i), group_id=group.id)
           for i in range(3)]
    placed = place(scene, TUESDAY_22H)
    assert placed == ids[:2]  # the third has no host left that the group does not already use
    assert {scene.get(w).host_id for w in ids[:2]} == set(scene.hosts.values())
    assert scene.get(ids[2]).placement.reasons[0][1] == "group_host_taken"  # type: ignore[union-attr]


def test_owner_load_is_respected(scene: Scene) -> None:
    scene.member("Drancy")
    scene.member("Bobigny")
    scene.site("drancy", "Drancy", Offer(default_percent=100))
    # 16 cores × 4, but the owner's own VMs use 15 of them: 1 × 4 = 4 vCPU left.
    scene.host("hv1", "drancy", vcpus=16, owner=Resources(15, 1024))
    scene.offering("vm.four", vcpus=4)
    scene.offering("vm.five", vcpus=5)
    five = scene.workload("Bobigny", "vm.five")
    four = scene.workload("Bobigny", "vm.four")
    assert place(scene, TUESDAY_22H) == [four]
    assert scene.get(five).placement.reasons[0][1] == "owner_needs_capacity"  # type: ignore[union-attr]


def test_placement_fills_in_arrival_order_and_counts_guaranteed_apart(scene: Scene) -> None:
    from civicloud.domain import ServiceClass

    scene.member("Drancy")
    scene.member("Bobigny")
    scene.site("drancy", "Drancy", Offer(committed_percent=25, default_percent=50))
    host = scene.host("hv1", "drancy", vcpus=16, memory_mib=65536)  # 64 vCPU after the 4.0 ratio
    scene.offering("g8", vcpus=8, service_class=ServiceClass.GUARANTEED)
    scene.offering("h8", vcpus=8)
    # Committed 25 % of 64 = 16 vCPU for guaranteed; 50 % = 32 lent in all.
    g = [scene.workload("Bobigny", "g8", at=TUESDAY_10H + timedelta(seconds=i)) for i in range(3)]
    h = [scene.workload("Bobigny", "h8", at=TUESDAY_10H + timedelta(seconds=10 + i)) for i in range(3)]
    placed = place(scene, TUESDAY_22H)
    assert placed == g[:2] + h[:2]
    with scene.uow_factory() as uow:
        state = uow.hosts.get(host)
    assert state is not None
    assert (state.allocated.vcpus, state.allocated_guaranteed.vcpus) == (32, 16)


def test_a_burst_above_the_workload_quota_places_up_to_the_limit(scene: Scene) -> None:
    """Pending requests hold nothing: a burst of three under a limit of two places two, not none."""
    from civicloud.domain import Agreement, AgreementKind

    scene.member("Drancy")
    bobigny = scene.member("Bobigny")
    scene.site("drancy", "Drancy", Offer(default_percent=100))
    scene.host("hv1", "drancy")
    scene.offering("vm.small")
    with scene.uow_factory() as uow:
        uow.agreements.add(Agreement(new_id(), bobigny.id, AgreementKind.MUTUALISATION_CONVENTION,
                                     datetime(2026, 1, 1).date(), None, {"harvest": Quota(workloads=2)}))
        uow.commit()
    ids = [scene.workload("Bobigny", "vm.small", at=TUESDAY_10H + timedelta(seconds=i)) for i in range(3)]
    assert place(scene, TUESDAY_22H) == ids[:2]
    assert scene.get(ids[2]).placement.reasons[0][1] == "quota_exceeded"  # type: ignore[union-attr]


def test_requests_nothing_can_take_never_hold_back_newer_ones(scene: Scene) -> None:
    """A pass walks the whole queue: three requests for a region without a site, then one that fits."""
    from dataclasses import replace

    from civicloud.domain import Residency

    scene.member("Drancy")
    scene.member("Bobigny")
    scene.site("drancy", "Drancy", Offer(default_percent=100))
    scene.host("hv1", "drancy")
    scene.offering("vm.small")
    # Pinned to Auvergne-Rhône-Alpes (region 84), where nobody lends.
    stuck = [scene.workload("Bobigny", "vm.small", at=TUESDAY_10H + timedelta(seconds=i),
                            residency=Residency(regions=("84",))) for i in range(3)]
    fits = scene.workload("Bobigny", "vm.small", at=TUESDAY_10H + timedelta(seconds=10))
    scene.at(TUESDAY_22H)
    placed = [o.workload_id for o in place_pending(scene.uow_factory, replace(SETTINGS, batch=3, claim_batch=2))
              if o.placed]
    assert placed == [fits]
    assert scene.get(stuck[0]).placement.reasons[0][1] == "outside_residency"  # type: ignore[union-attr]
