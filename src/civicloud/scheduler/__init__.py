"""Placement: pure logic over an immutable snapshot of hosts.

``schedule(snapshot, request, profile) -> Decision``: filters say, per host,
whether it can take the workload and if not why (a reason code, returned as
data); scorers rank the hosts that pass. The decision never writes: claiming
the chosen host is the store's job.
"""

from civicloud.scheduler.framework import (
    Decision,
    GroupConstraint,
    Profile,
    QuotaExceeded,
    Reason,
    Request,
    schedule,
)
from civicloud.scheduler.profiles import GUARANTEED, HARVEST, profile_for
from civicloud.scheduler.snapshot import HostRow, SiteFacts, Snapshot, build_snapshot

__all__ = [
    "GUARANTEED", "HARVEST", "Decision", "GroupConstraint", "HostRow", "Profile", "QuotaExceeded", "Reason",
    "Request", "SiteFacts", "Snapshot", "build_snapshot", "profile_for", "schedule",
]
