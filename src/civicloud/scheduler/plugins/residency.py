"""Residency: the data stays in the countries, regions or départements the request names."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import Snapshot

OUTSIDE = Reason("outside_residency", "outside the residency asked")


@register_filter
class ResidencyFilter:
    name: ClassVar[str] = "residency"
    reasons: ClassVar[tuple[Reason, ...]] = (OUTSIDE,)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        res = request.residency
        zeros = np.zeros(candidates.size, dtype=np.int32)
        if not res.constrained:
            return np.ones(candidates.size, dtype=bool), zeros
        # Decide per site (a few hundred), then look the answer up per host.
        site_ok = np.array([
            (not res.countries or snap.site_country[i] in res.countries)
            and (not res.regions or snap.site_region[i] in res.regions)
            and (not res.departments or snap.site_department[i] in res.departments)
            for i in range(len(snap.sites))], dtype=bool)
        return site_ok[snap.site_of[candidates]], zeros
