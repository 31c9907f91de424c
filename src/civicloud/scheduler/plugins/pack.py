"""Pack harvest work: fuller hosts first, and lenders already lending, so fewer hosts are touched."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.errors import InvalidInput
from civicloud.scheduler.framework import Request, register_scorer
from civicloud.scheduler.snapshot import MEM, VCPU, Snapshot


@register_scorer
class PackScorer:
    name: ClassVar[str] = "pack"

    def __init__(self, lender_bonus: float = 0.25) -> None:
        if not (0 <= lender_bonus <= 1):
            raise InvalidInput("pack's lender_bonus is a fraction between 0 and 1",
                               code="civicloud.scheduler.invalid_argument")
        self.lender_bonus = lender_bonus

    def score(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> np.ndarray:
        need = request.vector
        share = snap.per_host(snap.share_now, candidates)
        # Best fit on the two resources that bind in practice: the fuller the host after placement, the better.
        fullness = np.maximum(
            (snap.rows(snap.allocated, VCPU, candidates) + need[VCPU])
            / np.maximum(snap.rows(snap.capacity, VCPU, candidates) * share, 1.0),
            (snap.rows(snap.allocated, MEM, candidates) + need[MEM])
            / np.maximum(snap.rows(snap.capacity, MEM, candidates) * share, 1.0))
        active = snap.lenders_active[snap.per_host(snap.lender_of, candidates)]
        scores: np.ndarray = fullness + self.lender_bonus * active
        return scores
