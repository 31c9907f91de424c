"""A host whose agent stopped reporting can start nothing: one boolean per host."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.plugins._util import single_reason
from civicloud.scheduler.snapshot import Snapshot

NOT_REPORTING = Reason("host_not_reporting", "agent not reporting")


@register_filter
class HostReportingFilter:
    name: ClassVar[str] = "host_reporting"
    reasons: ClassVar[tuple[Reason, ...]] = (NOT_REPORTING,)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return single_reason(snap.per_host(snap.fresh, candidates).copy())
