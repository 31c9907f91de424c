"""The lender's offer is open now (its calendar lends something) and lends to the borrower's category."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.domain.catalogue import ServiceClass
from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import CATEGORY_BIT, Snapshot

CLOSED_NOW = Reason("offer_closed_now", "offer closed now")
CATEGORY_REFUSED = Reason("borrower_category_not_allowed", "offer not open to the borrower's category")


@register_filter
class OfferOpenFilter:
    name: ClassVar[str] = "offer_open"
    reasons: ClassVar[tuple[Reason, ...]] = (CLOSED_NOW, CATEGORY_REFUSED)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lent = snap.committed[candidates] if request.service_class is ServiceClass.GUARANTEED \
            else snap.share_now[candidates]
        open_now = lent > 0
        allowed = (snap.categories[candidates] & CATEGORY_BIT[request.borrower_category]) != 0
        reason = np.where(open_now, 1, 0).astype(np.int32)
        return open_now & allowed, reason
