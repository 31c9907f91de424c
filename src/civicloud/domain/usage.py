"""Usage samples: what an agent measured of one guest at one instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UsageSample:
    """Counters (CPU time, disk and network bytes) are cumulative since the domain started: a period's
    use is the difference between two samples, or the later one alone after a restart reset them."""

    id: str
    workload_id: str
    member_id: str
    site_id: str
    host_id: str
    sampled_at: datetime
    received_at: datetime
    vcpus: int
    cpu_time_ns: int
    memory_mib: int
    memory_used_mib: int | None
    disk_read_bytes: int
    disk_write_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
