"""Placement: pure logic over an immutable snapshot of hosts.

This is the first cut (first-fit). It already has the shape of the full
engine: it never writes, it returns a ``Decision`` with the ranked hosts and
the reason every other host was left out; the claim is the store's job.
"""

from civicloud.scheduler.first_fit import (
    REASON_HOST_STALE,
    REASON_INSUFFICIENT,
    Decision,
    PlacementRequest,
    Rejection,
    schedule,
)

__all__ = ["REASON_HOST_STALE", "REASON_INSUFFICIENT", "Decision", "PlacementRequest", "Rejection", "schedule"]
