"""Reclaim: how much a host is over what its owner lets civicloud hold, and which workloads to evict.

Pure, like the rest of the scheduler. A host is over when the allocations on it
exceed the share its offer lends now (the calendar window closed, the share
dropped) or what the owner's own load leaves free (the owner started its own
virtual machines). Only harvest workloads are evicted; guaranteed ones live in
the committed share, which the owner promised not to take back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from math import comb

import numpy as np

from civicloud.scheduler.snapshot import Snapshot

# Above this many subsets to try for one size, the exact search gives way to the greedy one.
EXACT_BUDGET = 20_000


def host_deficits(snap: Snapshot) -> np.ndarray:
    """(4, N): per host and resource, how much civicloud holds beyond what the owner allows now; zero on
    hosts whose agent is not reporting (their owner's load is unknown, and their agent could not act) and on
    hosts whose offer's calendar cannot be evaluated now (what it lends is unknown, not nothing: evicting for
    a calendar the control plane cannot read would take back what the lender may still lend)."""
    over: np.ndarray = np.maximum(np.maximum(-snap.lent_room, -snap.owner_room), 0.0)
    over[:, ~(snap.fresh & snap.calendar_ok)] = 0.0
    return over


@dataclass(frozen=True)
class Evictable:
    workload_id: str
    resources: tuple[int, int, int, int]
    created_at: datetime


def choose_evictions(deficit: Sequence[float] | np.ndarray, candidates: Sequence[Evictable]) -> list[str]:
    """The fewest workloads whose resources cover ``deficit`` on every resource; among sets of that size,
    the one with the newest workloads first (the first in lexicographic order over newest-first).

    Exact while the number of subsets of one size stays under ``EXACT_BUDGET`` (a host's few dozen
    workloads, up to three or four at a time); beyond, greedy: the workload covering most of what is left
    (each resource weighed by its share of the deficit), newest on ties, then any workload the others
    make unnecessary is kept. When even all of them cannot cover the deficit, all of them go.
    """
    need = np.maximum(np.asarray(deficit, dtype=np.float64), 0.0)
    if not need.any() or not candidates:
        return []
    order = sorted(candidates, key=lambda c: (c.created_at, c.workload_id), reverse=True)  # newest first
    sizes = np.array([c.resources for c in order], dtype=np.float64).reshape(len(order), 4)
    if not (sizes.sum(axis=0) >= need).all():
        return [c.workload_id for c in order]
    n = len(order)
    smallest = _lower_bound(sizes, need)
    for k in range(smallest, n + 1):
        if comb(n, k) > EXACT_BUDGET:
            break
        for subset in combinations(range(n), k):
            if (sizes[list(subset)].sum(axis=0) >= need).all():
                return [order[i].workload_id for i in subset]
    return [order[i].workload_id for i in _greedy(sizes, need)]


def _lower_bound(sizes: np.ndarray, need: np.ndarray) -> int:
    """No fewer workloads can do: for each resource, the count of the largest it takes to cover it."""
    bound = 1
    for r in np.flatnonzero(need > 0):
        cumulative = np.cumsum(np.sort(sizes[:, r])[::-1])
        bound = max(bound, int(np.searchsorted(cumulative, need[r] - 1e-9)) + 1)
    return bound


def _greedy(sizes: np.ndarray, need: np.ndarray) -> list[int]:
    weight = np.where(need > 0, 1.0 / np.where(need > 0, need, 1.0), 0.0)
    chosen: list[int] = []
    left = need.copy()
    free = list(range(len(sizes)))
    while (left > 1e-9).any():
        gains = [float((np.minimum(sizes[i], np.maximum(left, 0.0)) * weight).sum()) for i in free]
        best = free[int(np.argmax(gains))]  # argmax keeps the first (newest) on ties
        chosen.append(best)
        free.remove(best)
        left -= sizes[best]
    for i in sorted(chosen, reverse=True):  # the oldest first: keep the ones the rest make unnecessary
        rest = [j for j in chosen if j != i]
        if rest and (sizes[rest].sum(axis=0) >= need).all():
            chosen = rest
    return sorted(chosen)
