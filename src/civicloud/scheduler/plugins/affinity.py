"""Affinity groups: same host, different host, or different site from the group's other workloads."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from civicloud.scheduler.framework import Reason, Request, register_filter
from civicloud.scheduler.snapshot import Snapshot

POLICIES = ("same_host", "different_host", "different_site")
NOT_GROUP_HOST = Reason("not_group_host", "not the host of its affinity group")
HOST_TAKEN = Reason("group_host_taken", "already holds a workload of its anti-affinity group")
SITE_TAKEN = Reason("group_site_taken", "site already holds a workload of its anti-affinity group")


@register_filter
class AffinityFilter:
    name: ClassVar[str] = "affinity"
    reasons: ClassVar[tuple[Reason, ...]] = (NOT_GROUP_HOST, HOST_TAKEN, SITE_TAKEN)

    def filter(self, request: Request, snap: Snapshot, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        group = request.group
        n = candidates.size
        if group is None or (not group.host_ids and not group.site_ids):
            return np.ones(n, dtype=bool), np.zeros(n, dtype=np.int32)
        ids = np.array([snap.index_of[h] for h in group.host_ids if h in snap.index_of], dtype=np.int64)
        on_group_host = np.isin(candidates, ids)
        if group.policy == "same_host":
            return on_group_host, np.zeros(n, dtype=np.int32)
        if group.policy == "different_host":
            return ~on_group_host, np.ones(n, dtype=np.int32)
        # A host with an offer of its own sits in a copy of its site named "<site id>#<host id>".
        site_idx = [i for i, s in enumerate(snap.sites) if s.id.partition("#")[0] in group.site_ids]
        on_group_site = np.isin(snap.site_of[candidates], np.array(site_idx, dtype=np.int64))
        return ~on_group_site, np.full(n, 2, dtype=np.int32)
