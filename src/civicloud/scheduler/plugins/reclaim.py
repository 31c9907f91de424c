"""A workload being evicted from a host is not placed back on that host: its owner is taking it back."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.plugins._util import single_reason
from civicloud.scheduler.snapshot import Snapshot

RECLAIMED = Reason("host_reclaimed", "host reclaimed by its owner")


@register_filter
class ReclaimFilter:
    name: ClassVar[str] = "reclaim"
    reasons: ClassVar[tuple[Reason, ...]] = (RECLAIMED,)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        passed = np.ones(candidates.size, dtype=bool)
        for host_id in request.avoid_hosts:
            index = snap.index_of.get(host_id)
            if index is not None:
                passed &= candidates != index
        return single_reason(passed)
