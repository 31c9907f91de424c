"""Reclaim through the service and the store: a lender's calendar closes or its own load grows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from civicloud.domain import Offer, Resources, ServiceClass, Window, WorkloadState
from civicloud.services import agents
from civicloud.services.placement import PlacementSettings, place_pending
from civicloud.services.reclaim import reclaim_pass
from civicloud.wire import ObservedWorkload, Report

from placement_scene import Scene

S = WorkloadState
TUESDAY_22H = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 22:00 in Paris
WEDNESDAY_10H = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris: the night window has closed
SETTINGS = PlacementSettings()
# Half the host by day, all of it by night; a quarter committed to guaranteed work; two minutes' notice.
DAY_AND_NIGHT = Offer(committed_percent=25, default_percent=50, reclaim_notice_s=120,
                      windows=(Window(frozenset(range(7)), time(20), time(7), 100),))


def lender_with_four_workloads(scene: Scene) -> dict[str, str]:
    """hv1 (16 GiB) at night holds three 4 GiB harvest workloads and one 2 GiB guaranteed one."""
    scene.member("Drancy")
    scene.member("Bobigny")
    scene.site("drancy", "Drancy", DAY_AND_NIGHT)
    scene.host("hv1", "drancy", vcpus=16, memory_mib=16384, seen=TUESDAY_22H)
    scene.offering("vm.h", vcpus=1, memory_mib=4096, disk_gib=0)
    scene.offering("vm.g", vcpus=1, memory_mib=2048, disk_gib=0, service_class=ServiceClass.GUARANTEED)
    ids = {name: scene.workload("Bobigny", "vm.h", name, at=TUESDAY_22H + timedelta(minutes=i))
           for i, name in enumerate(["oldest", "middle", "newest"])}
    ids["safe"] = scene.workload("Bobigny", "vm.g", "safe", at=TUESDAY_22H)
    scene.at(TUESDAY_22H)
    placed = [o.workload_id for o in place_pending(scene.uow_factory, SETTINGS) if o.placed]
    assert sorted(placed) == sorted(ids.values())
    return ids


def host_allocated(scene: Scene, name: str) -> Resources:
    with scene.uow_factory() as uow:
        host = uow.hosts.get(scene.hosts[name])
        totals = uow.allocations.open_totals_by_host().get(scene.hosts[name], Resources())
    assert host is not None and host.allocated == totals  # the counters agree with the allocations
    return host.allocated


def test_closing_window_evicts_the_fewest_newest_harvest_workloads(scene: Scene) -> None:
    ids = lender_with_four_workloads(scene)
    # By day hv1 lends 8 GiB: 14 GiB allocated is 6 GiB over, so two 4 GiB workloads must go.
    scene.at(WEDNESDAY_10H)
    outcome = reclaim_pass(scene.uow_factory, SETTINGS)
    assert sorted(outcome.evicted) == sorted([ids["newest"], ids["middle"]])
    for name in ("newest", "middle"):
        w = scene.get(ids[name])
        assert w.state is S.EVICTING
        assert w.evict_deadline == WEDNESDAY_10H + timedelta(seconds=120)
        # The workload's message is its borrower's: the lending site, not the lender's host.
        assert "the owner of its host at drancy takes it back (its offer lends less now)" in w.message
    assert scene.get(ids["oldest"]).state is S.SCHEDULED
    assert scene.get(ids["safe"]).state is S.SCHEDULED  # guaranteed: never evicted
    # Evicting workloads still hold their room until they are stopped or moved.
    assert host_allocated(scene, "hv1") == Resources(4, 14336, 0)

    scene.at(WEDNESDAY_10H + timedelta(seconds=5))
    again = reclaim_pass(scene.uow_factory, SETTINGS)
    assert again.evicted == [] and again.cancelled == []  # the shortfall is already being dealt with
    assert scene.get(ids["newest"]).evict_deadline == WEDNESDAY_10H + timedelta(seconds=120)


def test_evicted_workloads_move_to_another_members_surplus(scene: Scene) -> None:
    ids = lender_with_four_workloads(scene)
    scene.at(WEDNESDAY_10H)
    reclaim_pass(scene.uow_factory, SETTINGS)
    scene.member("Montreuil")
    scene.site("montreuil", "Montreuil", Offer(default_percent=100))
    scene.host("mt1", "montreuil", vcpus=8, memory_mib=6144, seen=WEDNESDAY_10H)  # room for one of them

    scene.at(WEDNESDAY_10H + timedelta(seconds=1))
    outcome = reclaim_pass(scene.uow_factory, SETTINGS)
    assert len(outcome.replaced) == 1
    moved_id, target = outcome.replaced[0]
    assert target == scene.hosts["mt1"] and moved_id in (ids["newest"], ids["middle"])
    moved = scene.get(moved_id)
    assert moved.state is S.SCHEDULED and moved.host_id == scene.hosts["mt1"] and moved.evict_deadline is None
    assert "re-placed at montreuil" in moved.message and "mt1" not in moved.message
    left = ids["middle"] if moved_id == ids["newest"] else ids["newest"]
    assert scene.get(left).state is S.EVICTING  # no room anywhere: it waits for its deadline
    assert host_allocated(scene, "hv1") == Resources(3, 10240, 0)
    assert host_allocated(scene, "mt1") == Resources(1, 4096, 0)


def test_the_stop_at_the_deadline_frees_the_room_and_queues_the_workload(scene: Scene) -> None:
    ids = lender_with_four_workloads(scene)
    scene.at(WEDNESDAY_10H)
    reclaim_pass(scene.uow_factory, SETTINGS)
    site_id = scene.sites["drancy"].id
    seen = Report(workloads=[ObservedWorkload(workload_id=ids["newest"], observed="stopped", host_name="hv1"),
                             ObservedWorkload(workload_id=ids["middle"], observed="running", host_name="hv1")])
    assert agents.report(scene.uow_factory(), site_id, seen) == (2, 0)
    stopped = scene.get(ids["newest"])
    assert stopped.state is S.PENDING and stopped.host_id is None and stopped.evict_deadline is None
    assert "stopped on hv1 when its owner took the host back" in stopped.message
    assert scene.get(ids["middle"]).state is S.EVICTING  # still up before its deadline: nothing changes
    assert host_allocated(scene, "hv1") == Resources(3, 10240, 0)
    # An observation from a host the workload is not on is old news.
    stale = Report(workloads=[ObservedWorkload(workload_id=ids["middle"], observed="stopped", host_name="hv9")])
    assert agents.report(scene.uow_factory(), site_id, stale) == (0, 1)
    assert scene.get(ids["middle"]).state is S.EVICTING


def test_eviction_is_called_off_when_the_owner_no_longer_needs_the_room(scene: Scene) -> None:
    ids = lender_with_four_workloads(scene)
    scene.at(WEDNESDAY_10H)
    reclaim_pass(scene.uow_factory, SETTINGS)
    # The lender widens its day share to 100 % before the deadline.
    with scene.uow_factory() as uow:
        uow.offers.set("o2", scene.sites["drancy"].id, None,
                       Offer(committed_percent=25, default_percent=100, reclaim_notice_s=120), WEDNESDAY_10H)
        uow.commit()
    scene.at(WEDNESDAY_10H + timedelta(seconds=30))
    outcome = reclaim_pass(scene.uow_factory, SETTINGS)
    assert sorted(outcome.cancelled) == sorted([ids["newest"], ids["middle"]])
    for name in ("newest", "middle"):
        w = scene.get(ids[name])
        assert w.state is S.RUNNING and w.evict_deadline is None and "called off" in w.message


def test_owner_load_growth_evicts_and_guaranteed_work_stays(scene: Scene) -> None:
    ids = lender_with_four_workloads(scene)
    scene.at(TUESDAY_22H + timedelta(minutes=30))
    # The owner starts its own VMs: 4 GiB of them. 16 − 4 = 12 GiB left for 14 GiB allocated: one must go.
    scene.host("hv1", "drancy", vcpus=16, memory_mib=16384, owner=Resources(2, 4096))
    outcome = reclaim_pass(scene.uow_factory, SETTINGS)
    assert outcome.evicted == [ids["newest"]]
    assert "its own load grew" in scene.get(ids["newest"]).message
    assert scene.get(ids["safe"]).state is S.SCHEDULED


def test_a_host_whose_agent_is_silent_is_left_alone(scene: Scene) -> None:
    lender_with_four_workloads(scene)
    short_memory = PlacementSettings(stale_after=timedelta(minutes=5))
    scene.at(WEDNESDAY_10H, silent=("hv1",))
    outcome = reclaim_pass(scene.uow_factory, short_memory)
    assert outcome.evicted == []  # its owner's load is unknown and its agent would not hear of it
