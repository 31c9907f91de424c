"""Prefer sites whose electricity emits less (gCO₂/kWh, set per site)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Request, register_scorer
from civicloud.scheduler.snapshot import Snapshot


@register_scorer
class LowCarbonScorer:
    name: ClassVar[str] = "low_carbon"

    def score(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> np.ndarray:
        scores: np.ndarray = -snap.site_carbon[snap.per_host(snap.site_of, candidates)]
        return scores
