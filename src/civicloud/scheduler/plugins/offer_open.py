"""The lender's offer is open now (its calendar lends something) and lends to the borrower's category.

A site whose calendar cannot be evaluated (``Snapshot.calendar_ok``) lends no harvest room; it is told apart
from a calendar that is closed, since the lender has something to fix (its time zone, its holidays)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.domain.catalogue import ServiceClass
from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import CATEGORY_BIT, Snapshot

CLOSED_NOW = Reason("offer_closed_now", "offer closed now")
CATEGORY_REFUSED = Reason("borrower_category_not_allowed", "offer not open to the borrower's category")
CALENDAR_UNAVAILABLE = Reason("offer_calendar_unavailable", "offer calendar cannot be evaluated")


@register_filter
class OfferOpenFilter:
    name: ClassVar[str] = "offer_open"
    reasons: ClassVar[tuple[Reason, ...]] = (CLOSED_NOW, CATEGORY_REFUSED, CALENDAR_UNAVAILABLE)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        guaranteed = request.service_class is ServiceClass.GUARANTEED
        lent = snap.committed[candidates] if guaranteed else snap.share_now[candidates]
        open_now = lent > 0
        allowed = (snap.categories[candidates] & CATEGORY_BIT[request.borrower_category]) != 0
        # Guaranteed work uses the committed share only, lent at all times: no calendar in it.
        unknown = np.zeros(candidates.size, dtype=bool) if guaranteed else ~snap.calendar_ok[candidates]
        reason = np.where(open_now, 1, np.where(unknown, 2, 0)).astype(np.int32)
        return open_now & allowed, reason
