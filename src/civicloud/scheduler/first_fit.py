"""First-fit placement: the first host, in a stable order, whose free capacity fits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from civicloud.domain.capacity import Host, Resources

# Reason codes are stable: the API counts and shows them.
REASON_INSUFFICIENT = "insufficient_{resource}"
REASON_HOST_STALE = "host_not_reporting"


@dataclass(frozen=True)
class PlacementRequest:
    workload_id: str
    resources: Resources


@dataclass(frozen=True)
class Rejection:
    host_id: str
    reason: str


@dataclass(frozen=True)
class Decision:
    ranked: tuple[Host, ...]
    rejections: tuple[Rejection, ...] = field(default_factory=tuple)

    @property
    def best(self) -> Host | None:
        return self.ranked[0] if self.ranked else None

    def summary(self) -> str:
        """One line a person can read: "3 hosts: 2 insufficient_memory_mib, 1 host_not_reporting"."""
        total = len(self.ranked) + len(self.rejections)
        if total == 0:
            return "no host has joined the federation yet"
        counts = Counter(r.reason for r in self.rejections)
        parts = [f"{n} {reason}" for reason, n in counts.most_common()]
        if self.ranked:
            parts.insert(0, f"{len(self.ranked)} fit")
        return f"{total} host{'s' if total > 1 else ''}: " + ", ".join(parts)


def schedule(hosts: Iterable[Host], request: PlacementRequest, *, now: datetime,
             stale_after: timedelta) -> Decision:
    """Rank the hosts that can take ``request``; say why the others cannot.

    First fit: hosts are kept in their snapshot order (by site then name), so
    the same snapshot always gives the same answer. Freshness is checked
    first because it is cheaper than capacity arithmetic and a host whose
    agent is silent cannot start anything anyway.
    """
    ranked: list[Host] = []
    rejections: list[Rejection] = []
    for host in hosts:
        if host.last_seen_at is None or now - host.last_seen_at > stale_after:
            rejections.append(Rejection(host.id, REASON_HOST_STALE))
            continue
        short = request.resources.shortfalls(host.free())
        if short:
            rejections.append(Rejection(host.id, REASON_INSUFFICIENT.format(resource=short[0])))
            continue
        ranked.append(host)
    return Decision(tuple(ranked), tuple(rejections))
