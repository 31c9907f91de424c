"""Which harvest workloads a reclaim evicts: the fewest that free enough, newest first on ties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloud.scheduler import reclaim
from civicloud.scheduler.reclaim import Evictable, choose_evictions

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def ev(name: str, vcpus: int, memory: int, minute: int) -> Evictable:
    return Evictable(name, (vcpus, memory, 0, 0), T0 + timedelta(minutes=minute))


def test_nothing_short_evicts_nothing() -> None:
    assert choose_evictions((0, 0, 0, 0), [ev("a", 1, 1024, 0)]) == []
    assert choose_evictions((0, -5, 0, 0), [ev("a", 1, 1024, 0)]) == []


def test_one_big_workload_beats_two_small_ones() -> None:
    candidates = [ev("small-new", 1, 2048, 3), ev("small-newer", 1, 2048, 4), ev("big-old", 4, 8192, 0)]
    assert choose_evictions((0, 3000, 0, 0), candidates) == ["big-old"]


def test_newest_first_among_equal_choices() -> None:
    candidates = [ev(f"w{i}", 1, 4096, i) for i in range(5)]
    assert choose_evictions((0, 6000, 0, 0), candidates) == ["w4", "w3"]


def test_every_resource_must_be_covered() -> None:
    candidates = [ev("cpu-heavy", 8, 1024, 2), ev("mem-heavy", 1, 16384, 1), ev("both", 4, 8192, 0)]
    # 6 vCPU and 9 GiB: no single workload covers both; cpu-heavy + mem-heavy do, and so do
    # cpu-heavy + both — the newer pair wins.
    assert choose_evictions((6, 9216, 0, 0), candidates) == ["cpu-heavy", "mem-heavy"]


def test_not_enough_to_cover_evicts_them_all() -> None:
    candidates = [ev("a", 1, 1024, 0), ev("b", 1, 1024, 1)]
    assert sorted(choose_evictions((0, 4096, 0, 0), candidates)) == ["a", "b"]


def test_greedy_beyond_the_exact_budget_still_covers(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reclaim, "EXACT_BUDGET", 1)
    candidates = [ev(f"w{i}", 1 + i % 3, 1024 * (1 + i % 5), i) for i in range(40)]
    chosen = choose_evictions((10, 20000, 0, 0), candidates)
    sizes = {c.workload_id: c.resources for c in candidates}
    freed = np.sum([sizes[c] for c in chosen], axis=0)
    assert freed[0] >= 10 and freed[1] >= 20000
    # None of them is superfluous: each one, left out, leaves the deficit uncovered.
    for left_out in chosen:
        rest = np.sum([sizes[c] for c in chosen if c != left_out], axis=0)
        assert rest[0] < 10 or rest[1] < 20000


sizes_st = st.tuples(st.integers(1, 8), st.integers(1, 16) .map(lambda g: g * 512))


@settings(max_examples=150, deadline=None)
@given(st.lists(sizes_st, min_size=1, max_size=8), st.integers(0, 24), st.integers(0, 40960))
def test_exact_choice_is_minimal_and_newest(sizes: list[tuple[int, int]], cpu: int, mem: int) -> None:
    candidates = [ev(f"w{i}", v, m, i) for i, (v, m) in enumerate(sizes)]
    need = np.array([cpu, mem, 0, 0])
    chosen = choose_evictions(need, candidates)
    by_id = {c.workload_id: c for c in candidates}
    vector = np.array([c.resources for c in candidates])
    if not need.any():
        assert chosen == []
        return
    if not (vector.sum(axis=0) >= need).all():
        assert sorted(chosen) == sorted(by_id)
        return
    freed = np.sum([by_id[c].resources for c in chosen], axis=0)
    assert (freed >= need).all()
    # Brute force: no smaller set covers, and the chosen set is the first of its size, newest first.
    newest_first = sorted(candidates, key=lambda c: c.created_at, reverse=True)
    for k in range(1, len(chosen)):
        assert not any((np.sum([c.resources for c in subset], axis=0) >= need).all()
                       for subset in combinations(newest_first, k))
    first = next(subset for subset in combinations(newest_first, len(chosen))
                 if (np.sum([c.resources for c in subset], axis=0) >= need).all())
    assert chosen == [c.workload_id for c in first]
