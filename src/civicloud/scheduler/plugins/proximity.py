"""Prefer sites near the borrower (great-circle distance between coordinates)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from haversine import Unit, haversine_vector

from civicloud.scheduler.framework import Request, register_scorer
from civicloud.scheduler.snapshot import Snapshot


def distances_km(origin: tuple[float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances from ``origin`` to each (lat, lon); NaN where a coordinate is unknown."""
    known = ~(np.isnan(lat) | np.isnan(lon))
    out = np.full(lat.shape, np.nan)
    if known.any():
        points = np.column_stack((lat[known], lon[known]))
        out[known] = haversine_vector(np.repeat([origin], len(points), axis=0), points, Unit.KILOMETERS)
    return out


@register_scorer
class ProximityScorer:
    name: ClassVar[str] = "proximity"

    def score(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> np.ndarray:
        if request.borrower_location is None:
            return np.zeros(candidates.size)  # nothing to prefer: every host scores the same
        per_site = distances_km(request.borrower_location, snap.site_lat, snap.site_lon)
        # A site without coordinates counts as the farthest known one: never preferred, never excluded.
        far = np.nanmax(per_site) if np.isfinite(per_site).any() else 0.0
        per_site = np.where(np.isnan(per_site), far, per_site)
        scores: np.ndarray = -per_site[snap.per_host(snap.site_of, candidates)]
        return scores
