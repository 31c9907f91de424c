"""The control loop's cached placement context decides exactly as a context read whole from the store.

Random sequences of what happens in a region — heartbeats, an owner's load moving, hosts and sites joining,
offers and reserves changed, agreements signed, placements made, hosts falling silent, the clock crossing
calendar edges, staleness and midnight — and after each one, the cache's context and a full read are compared:
the snapshot field by field, and the decisions of a placement pass on both.
"""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from civicloud.clock import random_ids as new_id
from civicloud.domain import Agreement, AgreementKind, Offer, Quota, Ratios, Resources, Window
from civicloud.scheduler.context import PlacementContext
from civicloud.scheduler.planning import default_profiles, plan_placements
from civicloud.services.placement import PlacementSettings, place_pending
from civicloud.services.snapshots import ContextCache, load_context
from civicloud.store import Engine

from placement_scene import HDS_VALID, NIGHTS_ONLY, Scene

STALE = timedelta(seconds=60)
START = datetime(2026, 10, 5, 17, 50, tzinfo=UTC)  # a Monday, 19:50 in Paris: ten minutes before nights open
OFFERS = [NIGHTS_ONLY, Offer(committed_percent=10, default_percent=50),
          Offer(default_percent=30, windows=(Window(frozenset(range(5)), time(8), time(19), 10),)),
          Offer(default_percent=100)]


def _same_snapshot(a: PlacementContext, b: PlacementContext) -> None:
    for f in fields(a.snapshot):
        x, y = getattr(a.snapshot, f.name), getattr(b.snapshot, f.name)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f.name
        else:
            assert x == y, f.name
    for name in ("members", "offerings", "groups", "group_hosts", "usage", "quotas", "member_location"):
        assert getattr(a, name) == getattr(b, name), name


def _step(rng: random.Random, scene: Scene, n: int) -> None:
    """One thing that happens in the region."""
    hosts = sorted(scene.hosts)
    sites = sorted(scene.sites)
    kind = rng.choice(["beat", "beat", "owner", "host", "site", "offer", "override", "reserve", "agreement",
                       "place", "silent", "midnight"])
    now = scene.clock()
    if kind == "beat":
        scene.at(now + timedelta(seconds=rng.choice([1, 5, 30, 59, 61, 600, 3600])))
    elif kind == "owner" and hosts:
        name = rng.choice(hosts)
        site_id, total, _owner = scene.reported[name]
        owner = Resources(rng.randint(0, total.vcpus), rng.randint(0, total.memory_mib))
        scene.reported[name] = (site_id, total, owner)
        with scene.uow_factory() as uow:
            uow.hosts.report(site_id, name, "test:///default", total, owner, now, new_id())
            uow.commit()
    elif kind == "host" and sites:
        scene.host(f"hv{n}", rng.choice(sites), vcpus=rng.choice([8, 16, 32]), memory_mib=rng.choice([32768, 65536]))
    elif kind == "site" or not sites:
        scene.member(f"m{n}")
        certs = (HDS_VALID,) if rng.random() < 0.3 else ()
        scene.site(f"s{n}", f"m{n}", rng.choice(OFFERS), certs=certs)
        scene.host(f"hv{n}", f"s{n}")
    elif kind == "offer":
        with scene.uow_factory() as uow:
            uow.offers.set(new_id(), scene.sites[rng.choice(sites)].id, None, rng.choice(OFFERS), now)
            uow.commit()
    elif kind == "override" and hosts:
        name = rng.choice(hosts)
        with scene.uow_factory() as uow:
            uow.offers.set(new_id(), scene.reported[name][0], scene.hosts[name], rng.choice(OFFERS), now)
            uow.commit()
    elif kind == "reserve" and hosts:
        with scene.uow_factory() as uow:
            uow.hosts.set_reserve(scene.hosts[rng.choice(hosts)], Resources(rng.randint(0, 4), 2048),
                                  Ratios(rng.choice([1.0, 2.0, 4.0]), 1.0, 1.0))
            uow.commit()
    elif kind == "agreement":
        member = scene.members[rng.choice(sorted(scene.members))]
        with scene.uow_factory() as uow:
            uow.agreements.add(Agreement(new_id(), member.id, AgreementKind.MUTUALISATION_CONVENTION, date(2026, 1, 1),
                                         None, {"harvest": Quota(vcpus=rng.randint(1, 8))}))
            uow.commit()
    elif kind == "place" and scene.members:
        for _ in range(rng.randint(1, 4)):
            scene.workload(rng.choice(sorted(scene.members)), rng.choice(sorted(scene.offerings)))
        place_pending(scene.uow_factory, PlacementSettings(stale_after=STALE))
    elif kind == "silent" and hosts:
        scene.at(now + timedelta(seconds=rng.choice([30, 61])), silent=tuple(rng.sample(hosts, len(hosts) // 2)))
    elif kind == "midnight":
        scene.at(datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(seconds=1))


@pytest.mark.parametrize("seed", range(8))
def test_the_cached_context_decides_as_a_full_read(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    scene = Scene.on(engine, START)
    scene.offering("vm-s", vcpus=1, memory_mib=1024)
    scene.offering("vm-l", vcpus=8, memory_mib=16384)
    cache = ContextCache(STALE, 52.0)
    profiles = default_profiles()
    for n in range(40):
        _step(rng, scene, n)
        for _ in range(2):  # after the event, and a moment later with nothing new (the snapshot served again)
            now = scene.clock()
            with scene.uow_factory() as uow:
                cached = cache.context(uow, now)
                full = load_context(uow, now, STALE, 52.0)
                pending = uow.workloads.pending(100)
            _same_snapshot(cached, full)
            assert plan_placements(cached, pending, profiles, now).outcomes == \
                plan_placements(full, pending, profiles, now).outcomes
            scene.clock.advance(rng.choice([0.001, 1, 20]))
    assert cache.rebuilds < 80 and cache.patches > 0  # it did serve a snapshot again, and patch one


def test_a_pass_with_nothing_new_reads_no_host_and_builds_nothing(engine: Engine) -> None:
    scene = Scene.on(engine, START)
    scene.member("Drancy")
    for i in range(3):
        scene.site(f"mairie-{i}", "Drancy", OFFERS[1])
        scene.host(f"hv{i}", f"mairie-{i}")
    cache = ContextCache(STALE, 52.0)
    with scene.uow_factory() as uow:
        first = cache.context(uow, scene.clock())
    assert (cache.reads, cache.rebuilds, cache.patches, cache.full_scans) == (3, 1, 0, 1)
    scene.clock.advance(10)
    with scene.uow_factory() as uow:
        again = cache.context(uow, scene.clock())
    assert (cache.reads, cache.rebuilds, cache.full_scans) == (3, 1, 1)  # nothing read again, nothing rebuilt
    assert again.snapshot.now == scene.clock() and again.snapshot.capacity is first.snapshot.capacity
    scene.at(scene.clock() + timedelta(seconds=1), silent=("hv1", "hv2"))  # one heartbeat: that host only
    with scene.uow_factory() as uow:
        cache.context(uow, scene.clock())
    # hv0 read again from the revisions above the last mark, and patched into the snapshot
    assert (cache.reads, cache.rebuilds, cache.patches, cache.full_scans) == (4, 1, 1, 1)
    scene.clock.advance(STALE)  # hv1 and hv2 go stale by the clock alone: rebuilt, nothing read
    with scene.uow_factory() as uow:
        stale = cache.context(uow, scene.clock())
    assert (cache.reads, cache.rebuilds, cache.patches) == (4, 2, 1)
    assert list(stale.snapshot.fresh) == [True, False, False]


def test_a_write_committed_under_the_mark_is_found_by_the_checksum(engine: Engine) -> None:
    """A write whose revision is below what the range reads (it was made long before it committed) still
    reaches the cache: the count and checksum read with the range disagree, and every revision is read."""
    scene = Scene.on(engine, START)
    scene.member("Drancy")
    scene.site("mairie", "Drancy", OFFERS[1])
    for i in range(3):
        scene.host(f"hv{i}", "mairie")
    cache = ContextCache(STALE, 52.0)
    with scene.uow_factory() as uow:
        cache.context(uow, scene.clock())
    with engine.begin() as conn:  # as if hv1's write had been made 10 s before the mark and committed now
        conn.execute(text("UPDATE hosts SET owner_vcpus_used = 3, revision = revision + 1 WHERE name = 'hv1'"))
        conn.execute(text("UPDATE hosts SET revision = revision + 10000000 WHERE name = 'hv2'"))
        conn.execute(text("UPDATE hosts SET revision = revision - 10000000 WHERE name = 'hv1'"))
    with scene.uow_factory() as uow:
        cached = cache.context(uow, scene.clock())
        full = load_context(uow, scene.clock(), STALE, 52.0)
    assert cache.full_scans == 2
    _same_snapshot(cached, full)
    assert cached.snapshot.owner_room[0][cached.snapshot.index_of[scene.hosts["hv1"]]] == \
        full.snapshot.owner_room[0][full.snapshot.index_of[scene.hosts["hv1"]]]


def test_a_renamed_host_takes_its_place_in_the_order(engine: Engine) -> None:
    scene = Scene.on(engine, START)
    scene.member("Drancy")
    scene.site("mairie", "Drancy", OFFERS[1])
    for name in ("hv-a", "hv-b", "hv-c"):
        scene.host(name, "mairie")
    cache = ContextCache(STALE, 52.0)
    with scene.uow_factory() as uow:
        cache.context(uow, scene.clock())
    with engine.begin() as conn:
        conn.execute(text("UPDATE hosts SET name = 'hv-z', revision = revision + 1 WHERE name = 'hv-a'"))
    with scene.uow_factory() as uow:
        cached = cache.context(uow, scene.clock())
        full = load_context(uow, scene.clock(), STALE, 52.0)
    _same_snapshot(cached, full)
    assert cached.snapshot.host_names == ("hv-b", "hv-c", "hv-z")
