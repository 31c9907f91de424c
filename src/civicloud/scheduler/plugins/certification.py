"""Certification: e-health needs a site holding the HDS activities asked, attested and not expired; ISO 27001 and
SecNumCloud likewise (the snapshot's bits hold only attested certifications)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import TRAIT_BIT, Snapshot, hds_bits

NOT_HDS = Reason("not_hds_certified", "not HDS-certified (valid) for the activities asked")
MISSING_TRAIT = Reason("missing_certification", "lacks ISO 27001 / SecNumCloud asked")


@register_filter
class CertificationFilter:
    name: ClassVar[str] = "certification"
    reasons: ClassVar[tuple[Reason, ...]] = (NOT_HDS, MISSING_TRAIT)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hds = hds_bits(request.hds_activities)
        traits = sum(TRAIT_BIT[t] for t in request.traits)
        if not hds and not traits:
            return np.ones(candidates.size, dtype=bool), np.zeros(candidates.size, dtype=np.int32)
        bits = snap.cert_bits[candidates]
        hds_ok = (bits & hds) == hds
        traits_ok = (bits & traits) == traits
        return hds_ok & traits_ok, np.where(hds_ok, 1, 0).astype(np.int32)
