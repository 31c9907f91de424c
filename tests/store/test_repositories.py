"""Repositories on real SQLite and real PostgreSQL: the same tests run on both."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from civicloud.domain import (
    Agreement,
    AgreementKind,
    Allocation,
    Certification,
    CertificationKind,
    DesiredPower,
    Member,
    MemberCategory,
    Offering,
    Resources,
    ServiceClass,
    Site,
    WorkloadState,
)
from civicloud.errors import Conflict
from civicloud.store import UnitOfWork
from store_scene import HOST_TOTAL, NOW, SMALL, Scene, make_workload, new_id

Uows = Callable[[], UnitOfWork]
S = WorkloadState


# -- members and agreements ---------------------------------------------------


def test_members_crud(uow_factory: Uows, scene: Scene) -> None:
    siret_member = Member(new_id(), "Aulnay-sous-Bois", "219300050", "21930005000019", MemberCategory.COMMUNE, NOW)
    with uow_factory() as uow:
        uow.members.add(siret_member)
        uow.commit()
    with uow_factory() as uow:
        assert uow.members.get(siret_member.id) == siret_member
        drancy = uow.members.get_by_name("Drancy")
        assert drancy is not None and drancy.id == scene.drancy and drancy.category is MemberCategory.COMMUNE
        assert drancy.created_at == NOW and drancy.created_at.tzinfo is UTC
        assert [m.name for m in uow.members.list()] == ["Aulnay-sous-Bois", "Bobigny", "Drancy"]
        assert uow.members.get("no-such-id") is None
        assert uow.members.get_by_name("drancy") is None  # names are exact


def test_member_name_is_unique(uow_factory: Uows, scene: Scene) -> None:
    with pytest.raises(Conflict) as info, uow_factory() as uow:
        uow.members.add(Member(new_id(), "Drancy", "219300290", None, MemberCategory.COMMUNE, NOW))
        uow.commit()
    assert info.value.code == "civicloud.store.conflict"
    with uow_factory() as uow:
        assert len(uow.members.list()) == 2


def test_agreements(uow_factory: Uows, scene: Scene) -> None:
    later = Agreement(new_id(), scene.drancy, AgreementKind.SEM_SHAREHOLDER, date(2027, 1, 1), None)
    first = Agreement(new_id(), scene.drancy, AgreementKind.MUTUALISATION_CONVENTION, date(2026, 1, 1),
                      date(2026, 12, 31))
    with uow_factory() as uow:
        uow.agreements.add(later)
        uow.agreements.add(first)
        uow.commit()
    with uow_factory() as uow:
        assert uow.agreements.for_member(scene.drancy) == [first, later]
        assert uow.agreements.for_member(scene.bobigny) == []


def test_agreement_of_unknown_member_is_refused(uow_factory: Uows, scene: Scene) -> None:
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.agreements.add(Agreement(new_id(), "no-such-member", AgreementKind.PPP, date(2026, 1, 1), None))
        uow.commit()


# -- sites ---------------------------------------------------------------------


def test_sites_crud_with_certifications(uow_factory: Uows, scene: Scene) -> None:
    certs = (Certification(CertificationKind.HDS, date(2029, 6, 30), frozenset({1, 2, 5})),
             Certification(CertificationKind.ISO27001, date(2028, 1, 1)))
    hospital = Site(new_id(), scene.bobigny, "avicenne-dc", "93008", "Europe/Paris", certs, NOW)
    with uow_factory() as uow:
        uow.sites.add(hospital, cert_ids=[new_id(), new_id()])
        uow.commit()
    with uow_factory() as uow:
        found = uow.sites.get(hospital.id)
        assert found is not None
        site, share, updated_at = found
        assert site == hospital  # certifications round-trip, activities included
        assert (share, updated_at) == (0.0, NOW)  # nothing is lent until the lender says so
        assert [(s.name, share) for s, share in uow.sites.list()] == [("avicenne-dc", 0.0), ("drancy-mairie", 50.0)]
        assert [s.name for s, _ in uow.sites.list(member_id=scene.drancy)] == ["drancy-mairie"]
        assert uow.sites.list(member_id="no-such-member") == []
        assert uow.sites.get("no-such-site") is None


def test_set_offer(uow_factory: Uows, scene: Scene) -> None:
    later = NOW + timedelta(hours=1)
    with uow_factory() as uow:
        assert uow.sites.set_offer(scene.site, 75.0, later)
        assert not uow.sites.set_offer("no-such-site", 75.0, later)
        uow.commit()
    with uow_factory() as uow:
        found = uow.sites.get(scene.site)
        assert found is not None and found[1:] == (75.0, later)
        assert {h.lend_share_percent for h in uow.hosts.list(scene.site)} == {75.0}


def test_site_name_is_unique(uow_factory: Uows, scene: Scene) -> None:
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.sites.add(Site(new_id(), scene.bobigny, "drancy-mairie", "93008", "Europe/Paris", (), NOW), cert_ids=[])
        uow.commit()


# -- hosts -----------------------------------------------------------------------


def test_hosts_read(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.name, h1.site_id, h1.total, h1.generation) == ("drancy-h1", scene.site, HOST_TOTAL, 0)
        assert h1.reserved == Resources() and h1.allocated == Resources()
        assert (h1.ratios.cpu, h1.ratios.ram, h1.ratios.disk) == (4.0, 1.0, 1.0)  # server defaults
        assert h1.lend_share_percent == 50.0 and h1.last_seen_at == NOW
        assert h1.lendable() == Resources(32, 32768, 500)
        assert [h.name for h in uow.hosts.list()] == ["drancy-h1", "drancy-h2"]
        assert [h.name for h in uow.hosts.snapshot()] == ["drancy-h1", "drancy-h2"]
        assert uow.hosts.list(site_id="no-such-site") == []
        assert uow.hosts.get("no-such-host") is None
        assert uow.hosts.count() == 2


def test_a_second_report_refreshes_the_same_host_and_bumps_its_generation(uow_factory: Uows, scene: Scene) -> None:
    later = NOW + timedelta(minutes=1)
    with uow_factory() as uow:
        host_id = uow.hosts.report(scene.site, "drancy-h1", "qemu:///system", Resources(32, 131072, 2000), later,
                                   new_id())
        uow.commit()
    assert host_id == scene.h1
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.libvirt_uri, h1.total, h1.last_seen_at, h1.generation) == (
            "qemu:///system", Resources(32, 131072, 2000), later, 1)
        assert uow.hosts.count() == 2


def test_claim_adds_and_bumps_the_generation(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, 0, SMALL)
        assert uow.hosts.claim(scene.h1, 1, SMALL)
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (2, Resources(4, 8192, 40))
        h2 = uow.hosts.get(scene.h2)
        assert h2 is not None and (h2.generation, h2.allocated) == (0, Resources())


def test_claim_with_a_stale_generation_changes_nothing(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        seen = uow.hosts.get(scene.h1)
    assert seen is not None
    with uow_factory() as uow:  # another scheduler claims first
        assert uow.hosts.claim(scene.h1, seen.generation, SMALL)
        uow.commit()
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, seen.generation, Resources(30, 1, 1)) is False
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (1, SMALL)


def test_claim_of_unknown_host_is_false(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.hosts.claim("no-such-host", 0, SMALL) is False


@pytest.mark.parametrize("change", ["heartbeat", "release", "offer"])
def test_whatever_changes_a_hosts_room_makes_older_claims_fail(uow_factory: Uows, scene: Scene,
                                                                change: str) -> None:
    """A scheduler decided on a snapshot; any change to what the host can take must fail its claim."""
    with uow_factory() as uow:
        uow.hosts.claim(scene.h1, 0, SMALL)
        uow.commit()
    with uow_factory() as uow:
        seen = uow.hosts.get(scene.h1)
    assert seen is not None
    with uow_factory() as uow:
        if change == "heartbeat":
            uow.hosts.report(scene.site, "drancy-h1", "test:///default", Resources(2, 4096, 20), NOW, new_id())
        elif change == "release":
            uow.hosts.release(scene.h1, SMALL)
        else:  # the lender cuts its offer: the room the snapshot saw is gone
            uow.sites.set_offer(scene.site, 0.0, NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, seen.generation, SMALL) is False


def test_release_gives_back_and_bumps_the_generation(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.hosts.claim(scene.h1, 0, Resources(6, 12288, 60))
        uow.hosts.release(scene.h1, SMALL)
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (2, Resources(4, 8192, 40))


def test_uncommitted_claim_is_rolled_back(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, 0, SMALL)
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (0, Resources())


# -- offerings -------------------------------------------------------------------


def test_offerings_crud(uow_factory: Uows, scene: Scene) -> None:
    desktop = Offering(new_id(), "desktop", "a virtual desktop for remote work", Resources(2, 8192, 50),
                       ServiceClass.GUARANTEED)
    with uow_factory() as uow:
        uow.offerings.add(desktop)
        uow.commit()
    with uow_factory() as uow:
        assert uow.offerings.get(desktop.id) == desktop
        assert uow.offerings.get_by_name("desktop") == desktop
        assert [o.name for o in uow.offerings.list()] == ["desktop", "vm-small"]
        assert uow.offerings.get("no-such-offering") is None
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.offerings.add(Offering(new_id(), "desktop", "", SMALL, ServiceClass.HARVEST))
        uow.commit()


# -- workloads ---------------------------------------------------------------------


def test_workloads_crud(uow_factory: Uows, scene: Scene) -> None:
    first = make_workload(scene.bobigny, scene.small, "compta")
    second = make_workload(scene.bobigny, scene.small, "rh", created_at=NOW + timedelta(seconds=1))
    placed = make_workload(scene.drancy, scene.small, "site-web", state=S.RUNNING, host_id=scene.h1,
                           created_at=NOW + timedelta(seconds=2))
    gone = make_workload(scene.drancy, scene.small, "old", state=S.DELETED, host_id=scene.h2,
                         created_at=NOW + timedelta(seconds=3))
    with uow_factory() as uow:
        for w in (placed, gone, second, first):
            uow.workloads.add(w)
        uow.commit()
    with uow_factory() as uow:
        assert uow.workloads.get(first.id) == first
        assert uow.workloads.get("no-such-workload") is None
        assert [w.name for w in uow.workloads.list()] == ["compta", "rh", "site-web"]  # arrival order
        assert [w.name for w in uow.workloads.list(include_deleted=True)] == ["compta", "rh", "site-web", "old"]
        assert [w.name for w in uow.workloads.list(member_id=scene.drancy)] == ["site-web"]
        assert [w.name for w in uow.workloads.list(state=S.DELETED)] == ["old"]
        assert [w.name for w in uow.workloads.pending(10)] == ["compta", "rh"]
        assert [w.name for w in uow.workloads.pending(1)] == ["compta"]
        assert [(w.name, host) for w, host in uow.workloads.on_site(scene.site)] == [("site-web", "drancy-h1")]
        assert uow.workloads.on_site("no-such-site") == []


def test_workload_update_is_a_compare_and_swap_on_the_state(uow_factory: Uows, scene: Scene) -> None:
    w = make_workload(scene.bobigny, scene.small, "compta")
    later = NOW + timedelta(seconds=5)
    with uow_factory() as uow:
        uow.workloads.add(w)
        uow.commit()
    with uow_factory() as uow:
        assert uow.workloads.update(w.id, S.PENDING, now=later, state=S.SCHEDULED, host_id=scene.h1,
                                    message="placed")
        assert not uow.workloads.update(w.id, S.PENDING, now=later, state=S.DELETED)  # the state moved on
        assert not uow.workloads.update("no-such-workload", S.PENDING, now=later, message="x")
        uow.commit()
    with uow_factory() as uow:
        got = uow.workloads.get(w.id)
        assert got is not None
        assert (got.state, got.host_id, got.message, got.updated_at, got.created_at) == (
            S.SCHEDULED, scene.h1, "placed", later, NOW)
        assert uow.workloads.update(w.id, S.SCHEDULED, now=later, desired=DesiredPower.ABSENT)
        uow.commit()
    with uow_factory() as uow:
        got = uow.workloads.get(w.id)
        assert got is not None and got.desired is DesiredPower.ABSENT


def test_live_workload_names_are_unique_per_member(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.workloads.add(make_workload(scene.bobigny, scene.small, "compta"))
        uow.workloads.add(make_workload(scene.drancy, scene.small, "compta"))  # another member: fine
        uow.commit()
    with pytest.raises(Conflict) as info, uow_factory() as uow:
        uow.workloads.add(make_workload(scene.bobigny, scene.small, "compta"))
        uow.commit()
    assert info.value.code == "civicloud.store.conflict"


def test_a_deleted_workload_frees_its_name(uow_factory: Uows, scene: Scene) -> None:
    old = make_workload(scene.bobigny, scene.small, "compta")
    with uow_factory() as uow:
        uow.workloads.add(old)
        uow.commit()
    with uow_factory() as uow:
        assert uow.workloads.update(old.id, S.PENDING, now=NOW, state=S.DELETED)
        uow.commit()
    renewed = make_workload(scene.bobigny, scene.small, "compta")
    with uow_factory() as uow:
        uow.workloads.add(renewed)
        uow.commit()
    with uow_factory() as uow:
        everything = uow.workloads.list(member_id=scene.bobigny, include_deleted=True)
        assert {(w.id, w.state) for w in everything} == {(old.id, S.DELETED), (renewed.id, S.PENDING)}


# -- allocations ---------------------------------------------------------------------


def _placed(uow_factory: Uows, scene: Scene, name: str = "compta") -> str:
    w = make_workload(scene.bobigny, scene.small, name, state=S.SCHEDULED, host_id=scene.h1)
    with uow_factory() as uow:
        uow.workloads.add(w)
        uow.commit()
    return w.id


def test_allocations_crud(uow_factory: Uows, scene: Scene) -> None:
    w1, w2 = _placed(uow_factory, scene, "a"), _placed(uow_factory, scene, "b")
    a1 = Allocation(new_id(), w1, scene.h1, SMALL, NOW)
    a2 = Allocation(new_id(), w2, scene.h2, Resources(1, 1024, 0), NOW)
    with uow_factory() as uow:
        uow.allocations.add(a1)
        uow.allocations.add(a2)
        uow.commit()
    with uow_factory() as uow:
        assert uow.allocations.open_for(w1) == a1
        assert uow.allocations.open_totals_by_host() == {scene.h1: SMALL, scene.h2: Resources(1, 1024, 0)}
        later = NOW + timedelta(hours=2)
        assert uow.allocations.close(a1.id, later)
        assert not uow.allocations.close(a1.id, later)  # closing twice does nothing the second time
        assert not uow.allocations.close("no-such-allocation", later)
        uow.commit()
    with uow_factory() as uow:
        assert uow.allocations.open_for(w1) is None
        assert uow.allocations.open_for("no-such-workload") is None
        assert uow.allocations.open_totals_by_host() == {scene.h2: Resources(1, 1024, 0)}


def test_one_open_allocation_per_workload(uow_factory: Uows, scene: Scene) -> None:
    w = _placed(uow_factory, scene)
    first = Allocation(new_id(), w, scene.h1, SMALL, NOW)
    with uow_factory() as uow:
        uow.allocations.add(first)
        uow.commit()
    with pytest.raises(Conflict) as info, uow_factory() as uow:
        uow.allocations.add(Allocation(new_id(), w, scene.h2, SMALL, NOW))
        uow.commit()
    assert info.value.code == "civicloud.store.conflict"
    with uow_factory() as uow:
        assert uow.allocations.open_for(w) == first
        assert uow.allocations.close(first.id, NOW)
        uow.allocations.add(Allocation(new_id(), w, scene.h2, SMALL, NOW))  # once closed, a new one is fine
        uow.commit()
    with uow_factory() as uow:
        reopened = uow.allocations.open_for(w)
        assert reopened is not None and reopened.host_id == scene.h2


# -- credentials -----------------------------------------------------------------------


def test_join_token_is_consumed_once(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.credentials.add_join_token(new_id(), scene.site, "a" * 64, NOW, NOW + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        assert uow.credentials.consume_join_token("a" * 64, NOW + timedelta(minutes=1)) == scene.site
        uow.commit()
    with uow_factory() as uow:
        assert uow.credentials.consume_join_token("a" * 64, NOW + timedelta(minutes=2)) is None


def test_a_join_token_raced_by_several_agents_is_consumed_once(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.credentials.add_join_token(new_id(), scene.site, "r" * 64, NOW, NOW + timedelta(hours=1))
        uow.commit()
    agents = 4
    start = threading.Barrier(agents)

    def consume() -> str | None:
        start.wait()
        with uow_factory() as uow:
            site = uow.credentials.consume_join_token("r" * 64, NOW + timedelta(minutes=1))
            uow.commit()
        return site

    with ThreadPoolExecutor(agents) as pool:
        results = [f.result() for f in [pool.submit(consume) for _ in range(agents)]]
    assert results.count(scene.site) == 1 and results.count(None) == agents - 1


def test_uncommitted_consumption_leaves_the_token_valid(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.credentials.add_join_token(new_id(), scene.site, "b" * 64, NOW, NOW + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        assert uow.credentials.consume_join_token("b" * 64, NOW) == scene.site
    with uow_factory() as uow:
        assert uow.credentials.consume_join_token("b" * 64, NOW) == scene.site


@pytest.mark.parametrize(("case", "at", "valid"), [
    ("just issued", NOW, True),
    ("a second before expiry", NOW + timedelta(hours=1) - timedelta(seconds=1), True),
    ("at expiry", NOW + timedelta(hours=1), False),
    ("long after", NOW + timedelta(days=30), False),
])
def test_join_token_expiry(uow_factory: Uows, scene: Scene, case: str, at: datetime, valid: bool) -> None:
    with uow_factory() as uow:
        uow.credentials.add_join_token(new_id(), scene.site, "c" * 64, NOW, NOW + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        assert uow.credentials.consume_join_token("c" * 64, at) == (scene.site if valid else None)


def test_unknown_join_token(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.credentials.consume_join_token("d" * 64, NOW) is None


def test_site_credentials(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.credentials.add_site_credential(new_id(), scene.site, "e" * 64, "drancy-agent", NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.credentials.site_for_credential("e" * 64) == scene.site
        assert uow.credentials.site_for_credential("f" * 64) is None
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.credentials.add_site_credential(new_id(), scene.site, "e" * 64, "copycat", NOW)
        uow.commit()
