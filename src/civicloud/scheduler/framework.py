"""The placement framework: filter and score plugins, profiles, and ``schedule``.

As in the Kubernetes scheduler framework: filters say whether a host can take
the workload and, when not, why — a reason code returned as data, never an
exception; scorers rank the hosts that pass, each normalised to 0–100 and
weighted by the profile. Unlike it, every plugin works on all candidate hosts
at once (numpy arrays of the snapshot), which is what makes 5,000-host
decisions take well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from civicloud.domain.catalogue import Residency, ServiceClass
from civicloud.domain.members import MemberCategory
from civicloud.errors import InvalidInput
from civicloud.scheduler.snapshot import Snapshot


@dataclass(frozen=True)
class GroupConstraint:
    """An affinity group and where its other members already are."""

    policy: str  # same_host | different_host | different_site
    host_ids: frozenset[str] = frozenset()
    site_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class QuotaExceeded:
    """Set by the service when the borrower's agreement leaves no room: rejects every host."""

    name: str
    limit: int
    used: int


@dataclass(frozen=True)
class Request:
    workload_id: str
    resources: tuple[int, int, int, int]  # vcpus, memory_mib, disk_gib, gpus
    service_class: ServiceClass
    borrower_id: str
    borrower_category: MemberCategory
    hds_activities: frozenset[int] = frozenset()
    traits: frozenset[str] = frozenset()
    residency: Residency = field(default_factory=Residency)
    group: GroupConstraint | None = None
    quota_exceeded: QuotaExceeded | None = None
    borrower_location: tuple[float, float] | None = None
    avoid_hosts: frozenset[str] = frozenset()  # hosts being reclaimed from this workload

    @property
    def vector(self) -> np.ndarray:
        return np.array(self.resources, dtype=np.float64)


@dataclass(frozen=True)
class Reason:
    code: str  # stable: counted and shown by the API
    text: str  # for people: "insufficient memory"


class FilterPlugin(Protocol):
    name: ClassVar[str]
    reasons: ClassVar[tuple[Reason, ...]]

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(passed mask over ``candidates``, index into ``reasons`` for each candidate that failed)."""
        ...


class ScorePlugin(Protocol):
    name: ClassVar[str]

    def score(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> np.ndarray:
        """Raw scores over ``candidates``; higher is better. The framework normalises them to 0–100."""
        ...


FILTERS: dict[str, Callable[..., FilterPlugin]] = {}
SCORERS: dict[str, Callable[..., ScorePlugin]] = {}


def register_filter(cls: Any) -> Any:
    FILTERS[cls.name] = cls
    return cls


def register_scorer(cls: Any) -> Any:
    SCORERS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Profile:
    """Which filters run, in which order, and which scorers with what weight."""

    name: str
    filters: tuple[FilterPlugin, ...]
    scorers: tuple[tuple[ScorePlugin, float], ...]

    @classmethod
    def build(cls, name: str, filters: Sequence[str | tuple[str, Mapping[str, Any]]],
              scorers: Sequence[tuple[str, float] | tuple[str, float, Mapping[str, Any]]]) -> Profile:
        built_filters = []
        for spec in filters:
            fname, args = (spec, {}) if isinstance(spec, str) else spec
            if fname not in FILTERS:
                raise InvalidInput(f"unknown filter plugin {fname!r}; known: {', '.join(sorted(FILTERS))}",
                                   code="civicloud.scheduler.unknown_plugin")
            built_filters.append(FILTERS[fname](**args))
        built_scorers = []
        for scorer in scorers:
            sname, weight, *rest = scorer
            if sname not in SCORERS:
                raise InvalidInput(f"unknown score plugin {sname!r}; known: {', '.join(sorted(SCORERS))}",
                                   code="civicloud.scheduler.unknown_plugin")
            if not (0 < weight <= 100):
                raise InvalidInput(f"weight of {sname} must be in (0, 100], not {weight}",
                                   code="civicloud.scheduler.invalid_weight")
            built_scorers.append((SCORERS[sname](**(rest[0] if rest else {})), float(weight)))
        return cls(name, tuple(built_filters), tuple(built_scorers))


@dataclass(frozen=True)
class Decision:
    """The ranked hosts (best first, at most ``top``), and why every other host was left out."""

    workload_id: str
    ranked: tuple[str, ...]
    scores: tuple[float, ...]
    total_hosts: int
    feasible: int
    reason_counts: tuple[tuple[str, str, str, int], ...]  # (filter, code, text, hosts), most first
    rejected_by: Mapping[str, tuple[str, str]]  # host id -> (filter, code); built lazily by the caller

    @property
    def best(self) -> str | None:
        return self.ranked[0] if self.ranked else None

    def summary(self) -> str:
        """'1,204 hosts: 812 insufficient memory, 301 offer closed now' — what the API shows."""
        if self.total_hosts == 0:
            return "no host has joined the federation yet"
        parts = ([f"{self.feasible:,} fit"] if self.feasible else []) + \
            [f"{n:,} {text}" for _f, _c, text, n in self.reason_counts]
        return f"{self.total_hosts:,} host{'s' if self.total_hosts > 1 else ''}: " + ", ".join(parts)

    def reason_for(self, host_id: str) -> tuple[str, str] | None:
        return self.rejected_by.get(host_id)


class _LazyRejections(Mapping[str, tuple[str, str]]):
    """host id -> (filter, code), materialised only when someone asks (the API's explain does)."""

    def __init__(self, snap: Snapshot, by_host: np.ndarray, labels: list[tuple[str, str]]) -> None:
        self._snap, self._by_host, self._labels = snap, by_host, labels

    def __getitem__(self, host_id: str) -> tuple[str, str]:
        code = int(self._by_host[self._snap.index_of[host_id]])
        if code < 0:
            raise KeyError(host_id)
        return self._labels[code]

    def __iter__(self) -> Any:
        return (self._snap.host_ids[i] for i in np.flatnonzero(self._by_host >= 0))

    def __len__(self) -> int:
        return int((self._by_host >= 0).sum())


def schedule(snap: Snapshot, request: Request, profile: Profile, *, top: int = 8) -> Decision:
    """Filter then score every host of ``snap`` for ``request``. Pure: reads the snapshot, writes nothing."""
    n = snap.size
    rejected = np.full(n, -1, dtype=np.int32)
    labels: list[tuple[str, str]] = []
    texts: list[str] = []
    candidates = np.arange(n)
    for plugin in profile.filters:
        if candidates.size == 0:
            break
        passed, reason_idx = plugin.filter(request, snap, candidates)
        if passed.all():
            continue
        base = len(labels)
        labels.extend((plugin.name, r.code) for r in plugin.reasons)
        texts.extend(r.text for r in plugin.reasons)
        failed = ~passed
        rejected[candidates[failed]] = base + reason_idx[failed]
        candidates = candidates[passed]

    counts = np.bincount(rejected[rejected >= 0], minlength=len(labels)) if labels else np.zeros(0, int)
    reason_counts = tuple(sorted(((labels[i][0], labels[i][1], texts[i], int(c)) for i, c in enumerate(counts) if c),
                                 key=lambda r: -r[3]))
    ranked: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    if candidates.size:
        total = np.zeros(candidates.size)
        for scorer, weight in profile.scorers:
            total += weight * _normalise(scorer.score(request, snap, candidates))
        k = min(top, candidates.size)
        # Highest score first; equal scores keep snapshot order (stable), so decisions are reproducible.
        order = np.argsort(-total, kind="stable")[:k] if candidates.size <= 4 * k else \
            _top_k_stable(total, k)
        ranked = tuple(snap.host_ids[candidates[i]] for i in order)
        scores = tuple(float(total[i]) for i in order)
    return Decision(request.workload_id, ranked, scores, n, int(candidates.size), reason_counts,
                    _LazyRejections(snap, rejected, labels))


def _normalise(raw: np.ndarray) -> np.ndarray:
    """Min-max to 0–100 over the candidates; all equal scores give 100 to each."""
    lo, hi = float(raw.min()), float(raw.max())
    if hi - lo < 1e-12:
        return np.full(raw.shape, 100.0)
    return (raw - lo) * (100.0 / (hi - lo))


def _top_k_stable(total: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-total, k - 1)[:k]
    threshold = total[part].min()
    # Everything at the threshold competes on snapshot order, as a full stable sort would.
    pool = np.flatnonzero(total >= threshold)
    return pool[np.argsort(-total[pool], kind="stable")][:k]
