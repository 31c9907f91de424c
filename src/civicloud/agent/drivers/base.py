"""The driver interface the agent drives hypervisors through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from civicloud.agent.reconcile import Actual, Desired
from civicloud.errors import CivicloudError, ErrorKind


class DriverError(CivicloudError):
    """A hypervisor refused or failed an operation; the message says which and why."""

    code = "civicloud.driver.failed"
    kind = ErrorKind.UNAVAILABLE


@dataclass(frozen=True)
class HostInventory:
    name: str
    uri: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    # What the owner's own running VMs (those without civicloud's metadata) hold.
    owner_vcpus: int = 0
    owner_memory_mib: int = 0
    cpu_busy_percent: float | None = None  # since the previous inventory; None the first time or unknown


@dataclass(frozen=True)
class DomainSample:
    """One of civicloud's running guests as measured now. Counters are cumulative since it started."""

    workload_id: str
    host: str
    vcpus: int
    cpu_time_ns: int
    memory_mib: int
    memory_used_mib: int | None
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    net_rx_bytes: int = 0
    net_tx_bytes: int = 0


class Driver(Protocol):
    """One hypervisor host. Only domains carrying civicloud's metadata are listed or touched."""

    name: str
    features: frozenset[str]

    def inventory(self) -> HostInventory: ...
    def domains(self) -> list[Actual]: ...
    def samples(self) -> list[DomainSample]: ...
    def define(self, spec: Desired) -> None: ...
    def resize(self, spec: Desired) -> None: ...
    def start(self, workload_id: str) -> None: ...
    def stop(self, workload_id: str) -> None: ...
    def undefine(self, workload_id: str) -> None: ...
    def close(self) -> None: ...
