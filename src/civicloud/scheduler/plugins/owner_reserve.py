"""The owner comes first: its own current load plus civicloud's allocations must leave its reserve free."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.plugins._util import single_reason
from civicloud.scheduler.snapshot import Snapshot

OWNER_NEEDS_IT = Reason("owner_needs_capacity", "owner's own load leaves no room")


@register_filter
class OwnerReserveFilter:
    name: ClassVar[str] = "owner_reserve"
    reasons: ClassVar[tuple[Reason, ...]] = (OWNER_NEEDS_IT,)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fits, _ = snap.fits(snap.owner_room, request.vector, candidates)
        return single_reason(fits)
