"""Service class: guaranteed work only in the committed part of an offer, harvest anywhere in what is lent now."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.domain.catalogue import ServiceClass
from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import Snapshot

SURPLUS_USED = Reason("lent_share_used_up", "lent share used up")
COMMITTED_USED = Reason("committed_share_used_up", "committed share used up")


@register_filter
class ServiceClassFilter:
    name: ClassVar[str] = "service_class"
    reasons: ClassVar[tuple[Reason, ...]] = (SURPLUS_USED, COMMITTED_USED)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if request.service_class is ServiceClass.GUARANTEED:
            fits, _ = snap.fits(snap.committed_room, request.vector, candidates)
            return fits, np.ones(candidates.size, dtype=np.int32)
        fits, _ = snap.fits(snap.lent_room, request.vector, candidates)
        return fits, np.zeros(candidates.size, dtype=np.int32)
