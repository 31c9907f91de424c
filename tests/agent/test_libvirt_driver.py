"""The libvirt driver against libvirt's own test hypervisor (real libvirt code, in-process)."""

from __future__ import annotations

import re
import uuid

import libvirt
import pytest

from civicloud.agent.drivers import DriverError
from civicloud.agent.drivers.libvirt import DOMAIN_PREFIX, LibvirtDriver
from civicloud.agent.reconcile import Actual, Desired

pytestmark = pytest.mark.libvirt


def spec(power: str = "running") -> Desired:
    return Desired(str(uuid.uuid4()), "web <&> 1", "hv1", power, vcpus=2, memory_mib=1024)  # type: ignore[arg-type]


def test_inventory_reads_cpus_memory_and_disk(node_file) -> None:
    driver = LibvirtDriver(node_file(cpus=12, memory_gib=48), "hv1")
    inv = driver.inventory()
    # libvirt's test driver gives every storage pool 100 GiB, whatever the node file says.
    assert (inv.name, inv.vcpus, inv.memory_mib, inv.disk_gib) == ("hv1", 12, 48 * 1024, 100)


def test_lifecycle_define_start_stop_undefine(node_file) -> None:
    driver = LibvirtDriver(node_file(), "hv1")
    s = spec()
    driver.define(s)
    assert driver.domains() == [Actual(s.workload_id, "hv1", "stopped", (s.vcpus, s.memory_mib, s.disk_gib))]
    driver.start(s.workload_id)
    assert driver.domains() == [Actual(s.workload_id, "hv1", "running", (s.vcpus, s.memory_mib, s.disk_gib))]
    driver.start(s.workload_id)  # starting a running domain is a no-op, not an error
    driver.stop(s.workload_id)
    assert driver.domains() == [Actual(s.workload_id, "hv1", "stopped", (s.vcpus, s.memory_mib, s.disk_gib))]
    driver.undefine(s.workload_id)
    assert driver.domains() == []
    driver.undefine(s.workload_id)  # already gone: the outcome we wanted


def test_domain_carries_metadata_uuid_and_sizes(node_file) -> None:
    driver = LibvirtDriver(node_file(), "hv1")
    s = spec()
    driver.define(s)
    conn = driver._conn
    dom = conn.lookupByName(DOMAIN_PREFIX + s.workload_id)
    assert dom.UUIDString() == s.workload_id
    assert s.workload_id in dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, "urn:civicloud:libvirt:workload:1")
    assert dom.maxMemory() == 1024 * 1024 and dom.info()[3] == 2


def test_owner_domains_and_lookalikes_are_never_listed(node_file) -> None:
    """The node file holds the owner's VM; a look-alike name without our metadata is not ours either."""
    driver = LibvirtDriver(node_file(), "hv1")
    driver._conn.defineXML("<domain type='test'><name>civicloud-not-ours</name><memory>1024</memory>"
                           "<os><type>hvm</type></os></domain>")
    names = {d.name() for d in driver._conn.listAllDomains()}
    assert {"hv1-owner-erp", "civicloud-not-ours"} <= names
    assert driver.domains() == []


def test_a_clone_of_one_of_ours_is_not_ours(node_file) -> None:
    """An owner's virt-clone keeps our metadata; only the domain named after the workload counts."""
    driver = LibvirtDriver(node_file(), "hv1")
    s = spec()
    driver.define(s)
    clone = driver._conn.lookupByName(DOMAIN_PREFIX + s.workload_id).XMLDesc()
    clone = clone.replace(f"<name>{DOMAIN_PREFIX}{s.workload_id}</name>",
                          f"<name>{DOMAIN_PREFIX}{s.workload_id}-clone</name>")
    clone = re.sub(r"<uuid>[^<]+</uuid>", f"<uuid>{uuid.uuid4()}</uuid>", clone)
    driver._conn.defineXML(clone)
    assert [a.workload_id for a in driver.domains()] == [s.workload_id]
    driver.undefine(s.workload_id)
    assert driver.domains() == []
    assert DOMAIN_PREFIX + s.workload_id + "-clone" in [d.name() for d in driver._conn.listAllDomains()]


def test_redefining_the_same_workload_does_not_duplicate(node_file) -> None:
    driver = LibvirtDriver(node_file(), "hv1")
    s = spec()
    driver.define(s)
    driver.define(s)
    assert len(driver.domains()) == 1


def test_errors_are_translated(node_file) -> None:
    driver = LibvirtDriver(node_file(), "hv1")
    with pytest.raises(DriverError) as err:
        driver.start(str(uuid.uuid4()))
    assert err.value.code == "civicloud.driver.failed" and "hv1" in err.value.message


def test_unreachable_uri_is_a_clear_error() -> None:
    with pytest.raises(DriverError) as err:
        LibvirtDriver("test:///nonexistent/node.xml", "hv1")
    assert err.value.code == "civicloud.driver.unreachable"


def test_a_domain_undefined_while_the_host_is_listed_is_left_out(node_file) -> None:
    """The agent undefines a domain (or a person does) between libvirt's listing and the read of its state: the
    listing goes on without it, instead of failing the whole host for the pass."""
    driver = LibvirtDriver(node_file(), "hv1")
    kept, gone = spec(), spec()
    for s in (kept, gone):
        driver.define(s)
        driver.start(s.workload_id)
    conn = driver._connection()
    listed = conn.listAllDomains()
    target = next(d for d in listed if d.name() == DOMAIN_PREFIX + gone.workload_id)
    target.destroy()
    target.undefine()  # the handle listed a moment ago now names a domain that is no more

    class Stale:  # what listAllDomains returned just before the undefine
        def listAllDomains(self, *flags: int) -> list[object]:
            return listed

        def __getattr__(self, name: str) -> object:
            return getattr(conn, name)

    driver._connection = lambda: Stale()  # type: ignore[method-assign]
    assert [a.workload_id for a in driver.domains()] == [kept.workload_id]
    assert driver.inventory().name == "hv1"  # the owner's load is counted without it too
