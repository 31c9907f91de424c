"""Allocations: claimed by placement, released when their workload is gone."""

from __future__ import annotations

from datetime import datetime

from civicloud.store import UnitOfWork


def release_allocation(uow: UnitOfWork, workload_id: str, now: datetime) -> bool:
    """Close the workload's open allocation and give its resources back to the host.

    The decrement is one UPDATE that also bumps the host's generation, so a
    claim computed against the old totals fails its compare-and-swap and
    re-reads; no lock on the whole table.
    """
    allocation = uow.allocations.open_for(workload_id)
    if allocation is None:
        return False
    if uow.allocations.close(allocation.id, now):
        uow.hosts.release(allocation.host_id, allocation.resources, allocation.service_class)
        return True
    return False
