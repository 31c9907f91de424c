"""Spread guaranteed work: emptier hosts first, so one host's loss touches few workloads."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Request, register_scorer
from civicloud.scheduler.snapshot import MEM, VCPU, Snapshot


@register_scorer
class SpreadScorer:
    name: ClassVar[str] = "spread"

    def score(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> np.ndarray:
        need = request.vector
        scores: np.ndarray = -np.maximum(
            (snap.rows(snap.allocated, VCPU, candidates) + need[VCPU])
            / np.maximum(snap.rows(snap.capacity, VCPU, candidates), 1.0),
            (snap.rows(snap.allocated, MEM, candidates) + need[MEM])
            / np.maximum(snap.rows(snap.capacity, MEM, candidates), 1.0))
        return scores
