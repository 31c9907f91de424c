"""Resources fit: (total − reserved) × ratio − allocated covers the request, for each resource."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.plugins._util import shortfall_reasons
from civicloud.scheduler.snapshot import Snapshot


@register_filter
class ResourcesFitFilter:
    name: ClassVar[str] = "resources_fit"
    reasons: ClassVar[tuple[Reason, ...]] = shortfall_reasons("insufficient", "insufficient")

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return snap.fits(snap.free, request.vector, candidates)
