"""Repositories on real SQLite and real PostgreSQL: the same tests run on both."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from civicloud.domain import (
    Agreement,
    AgreementKind,
    Allocation,
    Certification,
    CertificationKind,
    DesiredPower,
    GroupPolicy,
    Member,
    MemberCategory,
    Offer,
    Offering,
    PlacementExplanation,
    PlacementGroup,
    Quota,
    Residency,
    Resources,
    ServiceClass,
    Site,
    Window,
    Workload,
    WorkloadState,
)
from civicloud.errors import Conflict
from civicloud.services import catalogue
from civicloud.store import Engine, UnitOfWork
from civicloud.store import tables as t

from civicloud_support import OPERATOR
from store_scene import HOST_TOTAL, NOW, SMALL, Scene, make_workload, new_id

Uows = Callable[[], UnitOfWork]
S = WorkloadState
HARVEST, GUARANTEED = ServiceClass.HARVEST, ServiceClass.GUARANTEED


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
        assert sorted(a.id for a in uow.agreements.all()) == sorted([first.id, later.id])


def test_agreement_quotas_round_trip(uow_factory: Uows, scene: Scene) -> None:
    quotas = {"harvest": Quota(vcpus=8, workloads=3), "guaranteed": Quota(memory_mib=16384, disk_gib=0)}
    limited = Agreement(new_id(), scene.bobigny, AgreementKind.MUTUALISATION_CONVENTION, date(2026, 1, 1), None,
                        quotas)
    with uow_factory() as uow:
        uow.agreements.add(limited)
        uow.commit()
    with uow_factory() as uow:
        [got] = uow.agreements.for_member(scene.bobigny)
        assert got == limited  # absent limits stay None (no limit), a limit of 0 stays 0
        assert got.quotas["guaranteed"] == Quota(None, 16384, 0, None)


def test_agreement_of_unknown_member_is_refused(uow_factory: Uows, scene: Scene) -> None:
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.agreements.add(Agreement(new_id(), "no-such-member", AgreementKind.PPP, date(2026, 1, 1), None))
        uow.commit()


# -- sites ---------------------------------------------------------------------


def test_sites_crud_with_certifications(uow_factory: Uows, scene: Scene) -> None:
    certs = (Certification(CertificationKind.HDS, date(2029, 6, 30), frozenset({1, 2, 5})),
             Certification(CertificationKind.ISO27001, date(2028, 1, 1)))
    hospital = Site(new_id(), scene.bobigny, "avicenne-dc", "93008", "Europe/Paris", certs, NOW, 48.9137, 2.4226,
                    35.5, "FR")
    with uow_factory() as uow:
        uow.sites.add(hospital, cert_ids=[new_id(), new_id()])
        uow.commit()
    with uow_factory() as uow:
        site = uow.sites.get(hospital.id)
        assert site == hospital  # certifications, coordinates and carbon intensity round-trip
        assert uow.sites.named("avicenne-dc") == [hospital]
        assert uow.sites.named("avicenne-dc", scene.drancy) == []  # names are per member
        assert uow.offers.get(hospital.id) is None  # nothing is lent until the lender says so
        assert [s.name for s in uow.sites.list()] == ["avicenne-dc", "drancy-mairie"]
        assert [s.name for s in uow.sites.list(member_id=scene.drancy)] == ["drancy-mairie"]
        assert uow.sites.list(member_id="no-such-member") == []
        assert uow.sites.get("no-such-site") is None
        mairie = uow.sites.get(scene.site)
        assert mairie is not None and (mairie.latitude, mairie.carbon_g_per_kwh, mairie.country) == (None, None, "FR")


OFFICE = Offer(committed_percent=10, default_percent=80,
               windows=(Window(frozenset(range(5)), time(8), time(19), 20.0),
                        Window(frozenset({5, 6}), time(0), time(0), 90.0)),
               borrower_categories=frozenset({MemberCategory.COMMUNE, MemberCategory.HOSPITAL}),
               reclaim_notice_s=600)


def test_set_offer(uow_factory: Uows, scene: Scene) -> None:
    later = NOW + timedelta(hours=1)
    with uow_factory() as uow:
        assert uow.offers.get(scene.site) == (Offer(default_percent=50.0), NOW)
        uow.offers.set(new_id(), scene.site, None, OFFICE, later)  # replaces the site's offer
        uow.commit()
    with uow_factory() as uow:
        assert uow.offers.get(scene.site) == (OFFICE, later)  # windows, categories and notice round-trip
        assert uow.offers.all() == {(scene.site, None): OFFICE}
        assert uow.offers.get(scene.site, scene.h1) is None
        assert uow.offers.get("no-such-site") is None
        # Every host of the site changed what it lends: claims decided before must fail.
        assert {h.generation for h in uow.hosts.list(scene.site)} == {1}


def test_host_offer_overrides_its_site(uow_factory: Uows, scene: Scene) -> None:
    mine = Offer(committed_percent=25, default_percent=25)
    with uow_factory() as uow:
        uow.offers.set(new_id(), scene.site, scene.h1, mine, NOW)
        uow.offers.set(new_id(), scene.site, scene.h1, replace_default(mine, 30), NOW)  # set again: one row
        uow.commit()
    with uow_factory() as uow:
        assert uow.offers.get(scene.site, scene.h1) == (replace_default(mine, 30), NOW)
        assert uow.offers.get(scene.site) == (Offer(default_percent=50.0), NOW)  # the site's is untouched
        assert uow.offers.all() == {(scene.site, None): Offer(default_percent=50.0),
                                    (scene.site, scene.h1): replace_default(mine, 30)}
        assert [(h.name, h.generation) for h in uow.hosts.list(scene.site)] == [("drancy-h1", 2), ("drancy-h2", 0)]
        assert uow.offers.remove_host_override(scene.site, scene.h1)
        assert not uow.offers.remove_host_override(scene.site, scene.h1)  # nothing left to remove
        uow.commit()
    with uow_factory() as uow:
        assert uow.offers.get(scene.site, scene.h1) is None
        assert uow.offers.all() == {(scene.site, None): Offer(default_percent=50.0)}
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and h1.generation == 4  # each removal changed what it lends


def replace_default(offer: Offer, percent: float) -> Offer:
    return Offer(offer.committed_percent, percent, offer.windows, offer.borrower_categories, offer.reclaim_notice_s)


@pytest.mark.parametrize("host", [None, "h1"])
def test_one_offer_per_site_and_per_host(engine: Engine, uow_factory: Uows, scene: Scene, host: str | None) -> None:
    """Partial unique indexes, not only the repository's upsert, keep one site-wide offer per site and one
    offer per host (two replicas setting an offer at once cannot both insert)."""
    host_id = None if host is None else scene.h1
    if host_id is not None:
        with uow_factory() as uow:
            uow.offers.set(new_id(), scene.site, host_id, Offer(), NOW)
            uow.commit()
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(t.offers.insert().values(
            id=new_id(), site_id=scene.site, host_id=host_id, committed_percent=0, default_percent=0, windows=[],
            borrower_categories="", reclaim_notice_s=30, updated_at=NOW))


def test_site_name_is_unique_within_a_member(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:  # another member may use the name
        uow.sites.add(Site(new_id(), scene.bobigny, "drancy-mairie", "93008", "Europe/Paris", (), NOW), cert_ids=[])
        uow.commit()
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.sites.add(Site(new_id(), scene.drancy, "drancy-mairie", "93029", "Europe/Paris", (), NOW), cert_ids=[])
        uow.commit()
    with uow_factory() as uow:
        assert sorted(s.member_id for s in uow.sites.named("drancy-mairie")) == sorted([scene.drancy, scene.bobigny])


def test_certifications_attested_and_replaced(uow_factory: Uows, scene: Scene) -> None:
    attested = Certification(CertificationKind.HDS, date(2029, 6, 30), frozenset({1, 2}), date(2026, 7, 1), NOW,
                             "user:operator", "HDS-2026-0042", "a certification body")
    with uow_factory() as uow:
        uow.sites.set_certification(new_id(), scene.site, attested)
        uow.commit()
    with uow_factory() as uow:
        site = uow.sites.get(scene.site)
        assert site is not None and site.certifications == (attested,)  # every attestation field round-trips
        assert attested.counts_on(date(2027, 1, 1)) and not attested.counts_on(date(2026, 6, 30))
        renewed = Certification(CertificationKind.HDS, date(2032, 6, 30), frozenset({1, 2}))
        uow.sites.set_certification(new_id(), scene.site, renewed)  # one of each kind: the proposal replaces it
        uow.commit()
    with uow_factory() as uow:
        site = uow.sites.get(scene.site)
        assert site is not None and site.certifications == (renewed,) and not renewed.attested
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.sites.add(Site(new_id(), scene.drancy, "twice-hds", "93029", "Europe/Paris", (renewed, renewed), NOW),
                      cert_ids=[new_id(), new_id()])
        uow.commit()


# -- hosts -----------------------------------------------------------------------


def test_hosts_read(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.name, h1.site_id, h1.total, h1.generation) == ("drancy-h1", scene.site, HOST_TOTAL, 0)
        assert h1.reserved == Resources() and h1.allocated == Resources()
        assert h1.allocated_guaranteed == Resources() and h1.owner_used == Resources()
        assert (h1.ratios.cpu, h1.ratios.ram, h1.ratios.disk) == (4.0, 1.0, 1.0)  # server defaults
        assert h1.last_seen_at == NOW
        # The store does not read calendars: the share lent now is the services' to apply (0 until then).
        assert h1.lend_share_percent == 0.0
        assert [h.name for h in uow.hosts.list()] == ["drancy-h1", "drancy-h2"]
        assert uow.hosts.list(site_id="no-such-site") == []
        assert uow.hosts.get("no-such-host") is None
        assert uow.hosts.count() == 2
    [lent] = [h for h in catalogue.list_hosts(uow_factory(), OPERATOR, scene.site) if h.id == scene.h1]
    assert lent.lend_share_percent == 50.0
    assert lent.lendable() == Resources(32, 32768, 500)


def test_a_second_report_refreshes_the_same_host_and_bumps_its_generation(uow_factory: Uows, scene: Scene) -> None:
    later = NOW + timedelta(minutes=1)
    with uow_factory() as uow:
        host_id = uow.hosts.report(scene.site, "drancy-h1", "qemu:///system", Resources(32, 131072, 2000, 2),
                                   Resources(4, 8192), later, new_id())
        uow.commit()
    assert host_id == scene.h1
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.libvirt_uri, h1.total, h1.owner_used, h1.last_seen_at, h1.generation) == (
            "qemu:///system", Resources(32, 131072, 2000, 2), Resources(4, 8192), later, 1)
        assert uow.hosts.count() == 2


def test_a_heartbeat_with_the_same_inventory_keeps_the_generation(uow_factory: Uows, scene: Scene) -> None:
    """Only a change of inventory makes claims fail: a plain heartbeat must not make every rival claim lose."""
    later = NOW + timedelta(minutes=1)
    with uow_factory() as uow:
        uow.hosts.report(scene.site, "drancy-h1", "test:///default", HOST_TOTAL, Resources(2, 1024), later, new_id())
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.generation, h1.last_seen_at, h1.owner_used) == (0, later, Resources(2, 1024))


def test_claim_adds_and_bumps_the_generation(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, 0, SMALL, HARVEST)
        assert uow.hosts.claim(scene.h1, 1, SMALL, HARVEST)
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (2, Resources(4, 8192, 40))
        assert h1.allocated_guaranteed == Resources()  # harvest work is not counted against the committed share
        h2 = uow.hosts.get(scene.h2)
        assert h2 is not None and (h2.generation, h2.allocated) == (0, Resources())


def test_guaranteed_claims_and_releases_move_both_counters(uow_factory: Uows, scene: Scene) -> None:
    gpu = Resources(4, 8192, 40, 1)
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, 0, gpu, GUARANTEED)
        assert uow.hosts.claim(scene.h1, 1, SMALL, HARVEST)
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.allocated, h1.allocated_guaranteed) == (gpu + SMALL, gpu)
        uow.hosts.release(scene.h1, gpu, GUARANTEED)
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None
        assert (h1.generation, h1.allocated, h1.allocated_guaranteed) == (3, SMALL, Resources())


def test_claim_with_a_stale_generation_changes_nothing(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        seen = uow.hosts.get(scene.h1)
    assert seen is not None
    with uow_factory() as uow:  # another scheduler claims first
        assert uow.hosts.claim(scene.h1, seen.generation, SMALL, HARVEST)
        uow.commit()
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, seen.generation, Resources(30, 1, 1), HARVEST) is False
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (1, SMALL)


def test_claim_of_unknown_host_is_false(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.hosts.claim("no-such-host", 0, SMALL, HARVEST) is False


@pytest.mark.parametrize("change", ["heartbeat", "release", "offer", "host offer", "host offer removed"])
def test_whatever_changes_a_hosts_room_makes_older_claims_fail(uow_factory: Uows, scene: Scene,
                                                                change: str) -> None:
    """A scheduler decided on a snapshot; any change to what the host can take must fail its claim."""
    with uow_factory() as uow:
        uow.hosts.claim(scene.h1, 0, SMALL, HARVEST)
        if change == "host offer removed":
            uow.offers.set(new_id(), scene.site, scene.h1, Offer(default_percent=100), NOW)
        uow.commit()
    with uow_factory() as uow:
        seen = uow.hosts.get(scene.h1)
    assert seen is not None
    with uow_factory() as uow:
        if change == "heartbeat":  # the host shrank
            uow.hosts.report(scene.site, "drancy-h1", "test:///default", Resources(2, 4096, 20), Resources(), NOW,
                             new_id())
        elif change == "release":
            uow.hosts.release(scene.h1, SMALL, HARVEST)
        elif change == "offer":  # the lender cuts its offer: the room the snapshot saw is gone
            uow.offers.set(new_id(), scene.site, None, Offer(), NOW)
        elif change == "host offer":
            uow.offers.set(new_id(), scene.site, scene.h1, Offer(), NOW)
        else:  # back to the site's 50 %, from its own 100 %
            uow.offers.remove_host_override(scene.site, scene.h1)
        uow.commit()
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, seen.generation, SMALL, HARVEST) is False


def test_release_gives_back_and_bumps_the_generation(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        uow.hosts.claim(scene.h1, 0, Resources(6, 12288, 60), HARVEST)
        uow.hosts.release(scene.h1, SMALL, HARVEST)
        uow.commit()
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (2, Resources(4, 8192, 40))


def test_uncommitted_claim_is_rolled_back(uow_factory: Uows, scene: Scene) -> None:
    with uow_factory() as uow:
        assert uow.hosts.claim(scene.h1, 0, SMALL, HARVEST)
    with uow_factory() as uow:
        h1 = uow.hosts.get(scene.h1)
        assert h1 is not None and (h1.generation, h1.allocated) == (0, Resources())


# -- offerings -------------------------------------------------------------------


def test_offerings_crud(uow_factory: Uows, scene: Scene) -> None:
    desktop = Offering(new_id(), "desktop", "a virtual desktop for remote work", Resources(2, 8192, 50, 1),
                       ServiceClass.GUARANTEED, frozenset({1, 5}), frozenset({"iso27001", "secnumcloud"}))
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


def test_workload_wishes_round_trip(uow_factory: Uows, scene: Scene) -> None:
    group = PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.DIFFERENT_HOST, NOW)
    with uow_factory() as uow:
        uow.groups.add(group)
        uow.commit()
    w = make_workload(scene.bobigny, scene.small, "erp-db")
    wished = Workload(w.id, w.member_id, w.offering_id, w.name, w.state, w.desired, None, "", NOW, NOW,
                      GUARANTEED, group.id, Residency(("FR",), ("11",), ("93", "2A")))
    plain = make_workload(scene.bobigny, scene.small, "compta")
    with uow_factory() as uow:
        uow.workloads.add(wished)
        uow.workloads.add(plain)
        uow.commit()
    with uow_factory() as uow:
        assert uow.workloads.get(wished.id) == wished
        got = uow.workloads.get(plain.id)
        assert got is not None
        assert (got.service_class, got.group_id, got.residency, got.placement) == (HARVEST, None, Residency(), None)


def test_name_taken(uow_factory: Uows, scene: Scene) -> None:
    w = make_workload(scene.bobigny, scene.small, "compta")
    with uow_factory() as uow:
        uow.workloads.add(w)
        uow.commit()
    with uow_factory() as uow:
        assert uow.workloads.name_taken(scene.bobigny, "compta")
        assert not uow.workloads.name_taken(scene.drancy, "compta")  # names are per member
        assert not uow.workloads.name_taken(scene.bobigny, "Compta")
        assert uow.workloads.update(w.id, S.PENDING, now=NOW, state=S.DELETED)
        assert not uow.workloads.name_taken(scene.bobigny, "compta")  # a deleted workload frees its name


def test_explain_records_the_last_decision_of_a_pending_workload(uow_factory: Uows, scene: Scene) -> None:
    pending = make_workload(scene.bobigny, scene.small, "compta")
    placed = make_workload(scene.bobigny, scene.small, "rh", state=S.SCHEDULED, host_id=scene.h1)
    why = PlacementExplanation("2 hosts: 2 insufficient memory",
                               (("resources_fit", "insufficient_memory_mib", "insufficient memory", 2),),
                               NOW + timedelta(seconds=1))
    with uow_factory() as uow:
        uow.workloads.add(pending)
        uow.workloads.add(placed)
        uow.commit()
    with uow_factory() as uow:
        uow.workloads.explain(pending.id, why, "no host can take vm-small now")
        uow.workloads.explain(placed.id, why, "too late")  # placed meanwhile: left alone
        uow.commit()
    with uow_factory() as uow:
        got = uow.workloads.get(pending.id)
        assert got is not None and (got.placement, got.message) == (why, "no host can take vm-small now")
        other = uow.workloads.get(placed.id)
        assert other is not None and (other.placement, other.message) == (None, "")


def test_usage_by_member_and_group_hosts(uow_factory: Uows, scene: Scene) -> None:
    """What quotas count (open allocations and placed live workloads, per member and class) and where groups are."""
    group = PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.SAME_HOST, NOW)
    with uow_factory() as uow:
        uow.groups.add(group)
        uow.commit()
    gpu = Resources(4, 8192, 40, 1)
    rows = [  # (member, name, class, host, state, group)
        (scene.bobigny, "a", HARVEST, scene.h1, S.RUNNING, group.id),
        (scene.bobigny, "b", HARVEST, scene.h2, S.SCHEDULED, group.id),
        (scene.bobigny, "c", GUARANTEED, scene.h2, S.RUNNING, None),
        (scene.bobigny, "d", HARVEST, None, S.PENDING, group.id),  # pending: holds nothing, counts nowhere yet
        (scene.bobigny, "e", HARVEST, scene.h1, S.DELETED, group.id),  # gone: counts nowhere
        (scene.drancy, "f", HARVEST, scene.h1, S.RUNNING, None),
    ]
    with uow_factory() as uow:
        for member, name, cls, host, state, group_id in rows:
            w = make_workload(member, scene.small, name, state=state, host_id=host)
            uow.workloads.add(Workload(w.id, member, scene.small, name, state, DesiredPower.RUNNING, host, "", NOW,
                                       NOW, cls, group_id))
            if host is not None:
                need = gpu if cls is GUARANTEED else SMALL
                allocation = Allocation(new_id(), w.id, host, need, NOW, None, cls)
                uow.allocations.add(allocation)
                if state is S.DELETED:
                    uow.allocations.close(allocation.id, NOW)
        uow.commit()
    with uow_factory() as uow:
        assert uow.workloads.usage_by_member() == {
            (scene.bobigny, "harvest"): (SMALL + SMALL, 2),
            (scene.bobigny, "guaranteed"): (gpu, 1),
            (scene.drancy, "harvest"): (SMALL, 1),
        }
        assert uow.workloads.group_hosts() == {group.id: {scene.h1: 1, scene.h2: 1}}  # e, deleted, counts nowhere


# -- placement groups -------------------------------------------------------------------


def test_placement_groups_crud(uow_factory: Uows, scene: Scene) -> None:
    erp = PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.DIFFERENT_SITE, NOW)
    web = PlacementGroup(new_id(), scene.bobigny, "web", GroupPolicy.SAME_HOST, NOW)
    theirs = PlacementGroup(new_id(), scene.drancy, "erp", GroupPolicy.DIFFERENT_HOST, NOW)  # names are per member
    with uow_factory() as uow:
        for g in (web, theirs, erp):
            uow.groups.add(g)
        uow.commit()
    with uow_factory() as uow:
        assert uow.groups.get(erp.id) == erp
        assert uow.groups.get_by_name(scene.bobigny, "erp") == erp
        assert uow.groups.get_by_name(scene.drancy, "erp") == theirs
        assert uow.groups.get_by_name(scene.drancy, "web") is None
        assert uow.groups.get("no-such-group") is None
        assert [g.name for g in uow.groups.list(scene.bobigny)] == ["erp", "web"]
        assert len(uow.groups.list()) == 3
    with pytest.raises(Conflict), uow_factory() as uow:
        uow.groups.add(PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.SAME_HOST, NOW))
        uow.commit()


def test_placement_group_members_and_delete(uow_factory: Uows, scene: Scene) -> None:
    group = PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.DIFFERENT_HOST, NOW)
    w = make_workload(scene.bobigny, scene.small, "erp-db")
    member = Workload(w.id, w.member_id, w.offering_id, w.name, w.state, w.desired, None, "", NOW, NOW,
                      HARVEST, group.id)
    with uow_factory() as uow:
        uow.groups.add(group)
        uow.workloads.add(member)
        uow.commit()
    with uow_factory() as uow:
        assert uow.groups.live_members(group.id) == 1
        assert uow.workloads.update(w.id, S.PENDING, now=NOW, state=S.DELETED)
        assert uow.groups.live_members(group.id) == 0
        uow.commit()
    with uow_factory() as uow:  # only deleted workloads name it: they let go of it
        assert uow.groups.delete(group.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.groups.get(group.id) is None
        gone = uow.workloads.get(w.id)
        assert gone is not None and (gone.state, gone.group_id) == (S.DELETED, None)


def test_a_placement_group_with_live_workloads_is_not_deleted(uow_factory: Uows, scene: Scene) -> None:
    group = PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.DIFFERENT_HOST, NOW)
    w = make_workload(scene.bobigny, scene.small, "erp-db")
    with uow_factory() as uow:
        uow.groups.add(group)
        uow.workloads.add(Workload(w.id, w.member_id, w.offering_id, w.name, w.state, w.desired, None, "", NOW, NOW,
                                   HARVEST, group.id))
        uow.commit()
    with pytest.raises(Conflict), uow_factory() as uow:  # the service says why first; the database holds anyway
        uow.groups.delete(group.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.groups.get(group.id) == group


def test_an_unused_placement_group_is_deleted(uow_factory: Uows, scene: Scene) -> None:
    group = PlacementGroup(new_id(), scene.bobigny, "erp", GroupPolicy.DIFFERENT_HOST, NOW)
    with uow_factory() as uow:
        uow.groups.add(group)
        uow.commit()
    with uow_factory() as uow:
        assert uow.groups.delete(group.id)
        assert not uow.groups.delete(group.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.groups.get(group.id) is None


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
    a2 = Allocation(new_id(), w2, scene.h2, Resources(1, 1024, 0, 1), NOW, None, GUARANTEED)
    with uow_factory() as uow:
        uow.allocations.add(a1)
        uow.allocations.add(a2)
        uow.commit()
    with uow_factory() as uow:
        assert uow.allocations.open_for(w1) == a1
        assert uow.allocations.open_for(w2) == a2  # GPUs and the service class round-trip
        assert uow.allocations.open_totals_by_host() == {scene.h1: SMALL, scene.h2: Resources(1, 1024, 0, 1)}
        later = NOW + timedelta(hours=2)
        assert uow.allocations.close(a1.id, later)
        assert not uow.allocations.close(a1.id, later)  # closing twice does nothing the second time
        assert not uow.allocations.close("no-such-allocation", later)
        uow.commit()
    with uow_factory() as uow:
        assert uow.allocations.open_for(w1) is None
        assert uow.allocations.open_for("no-such-workload") is None
        assert uow.allocations.open_totals_by_host() == {scene.h2: Resources(1, 1024, 0, 1)}


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


def test_two_first_roll_ups_at_once_make_one_watermark(engine: Engine) -> None:
    """Two replicas' first roll-up: both find no watermark, both make it; one does, the other learns it lost
    (it used to fail on the primary key when both checked before either committed)."""
    import threading

    from civicloud.store import SqlUnitOfWork

    until = NOW.replace(minute=0, second=0, microsecond=0)
    first = SqlUnitOfWork(engine)
    results: list[bool | BaseException] = []
    with first as uow:
        assert uow.usage_records.rolled_up_until() is None
        assert uow.usage_records.advance(None, until)

        def other() -> None:
            try:
                with SqlUnitOfWork(engine) as second:
                    won = second.usage_records.advance(None, until)  # waits for the first on PostgreSQL
                    second.commit()
                    results.append(won)
            except BaseException as exc:  # noqa: BLE001  # reported below
                results.append(exc)

        thread = threading.Thread(target=other)
        if engine.dialect.name == "postgresql":  # SQLite's writers wait for each other's BEGIN IMMEDIATE
            thread.start()
            thread.join(0.5)
        uow.commit()
    if not thread.is_alive() and not results:
        thread.start()
    thread.join(30)
    assert results == [False]
    with SqlUnitOfWork(engine) as uow:
        assert uow.usage_records.rolled_up_until() == until
