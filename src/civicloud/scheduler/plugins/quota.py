"""The borrower's quota, from its agreement: a request-level check, so it runs first and costs O(1)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import Snapshot

QUOTA_EXCEEDED = Reason("quota_exceeded", "borrower's quota reached")


@register_filter
class QuotaFilter:
    name: ClassVar[str] = "quota"
    reasons: ClassVar[tuple[Reason, ...]] = (QUOTA_EXCEEDED,)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = request.quota_exceeded is None
        return np.full(candidates.size, ok), np.zeros(candidates.size, dtype=np.int32)
