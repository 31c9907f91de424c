"""Hypervisor drivers. ``libvirt`` is the real one; the pure-Python ``simulated`` one comes with the simulator."""

from civicloud.agent.drivers.base import (
    DomainSample,
    Driver,
    DriverError,
    HostInventory,
)

__all__ = ["DomainSample", "Driver", "DriverError", "HostInventory", "open_driver"]


def open_driver(uri: str, name: str | None = None, **options: object) -> Driver:
    """A libvirt driver; ``options`` go to LibvirtDriver (images, domain_type, shutdown_timeout_s)."""
    from civicloud.agent.drivers.libvirt import LibvirtDriver

    return LibvirtDriver(uri, name, **options)  # type: ignore[arg-type]
