"""A real guest through the whole stack: API -> placement -> agent -> libvirtd -> QEMU, and nothing left after.

Needs libvirtd with QEMU (scripts/libvirtd.sh) and the test guest (scripts/build-guest-image.sh; cached in
$CIVICLOUD_GUEST_DIR, default /var/cache/civicloud/guest). In CI both are prepared by .ci/run and this test
must run; elsewhere it skips with the command to run.

QEMU runs as libvirt's unprivileged user: the guest files and the agent's state directory must sit in
directories that user can traverse, which pytest's private tmp_path is not; hence /var/tmp here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from civicloud.agent.drivers.images import BootImage, GuestImages
from civicloud.agent.drivers.libvirt import DOMAIN_PREFIX, LibvirtDriver
from civicloud.agent.runner import Agent
from civicloud.wire import WorkloadCreate

pytestmark = [pytest.mark.realvm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
GUEST_DIR = Path(os.environ.get("CIVICLOUD_GUEST_DIR", "/var/cache/civicloud/guest"))


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the real-VM test must run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def guest() -> BootImage:
    image = BootImage.test_guest(GUEST_DIR)
    if not all(p is not None and p.exists() for p in (image.base, image.kernel, image.initrd)):
        if os.geteuid() != 0:
            _unavailable(f"no test guest in {GUEST_DIR}; run: sudo scripts/build-guest-image.sh {GUEST_DIR}")
        subprocess.run(["bash", str(ROOT / "scripts" / "build-guest-image.sh"), str(GUEST_DIR)], check=True,
                       capture_output=True, timeout=600)
    return image


@pytest.fixture(scope="module")
def qemu_uri() -> str:
    uri = "qemu:///system"
    try:
        libvirt.open(uri).close()
    except libvirt.libvirtError as exc:
        _unavailable(f"libvirtd is not answering on {uri} ({exc.get_error_message()}); run: sudo scripts/libvirtd.sh")
    return uri


def wait(predicate, timeout: float, what: str, tick=None):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def agent_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="civicloud-realvm-", dir="/var/tmp"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_boot_a_real_guest_then_leave_nothing(live_region, qemu_uri: str, guest: BootImage, agent_dir: Path) -> None:
    images = GuestImages(agent_dir, guest)
    driver = LibvirtDriver(qemu_uri, "hv-real", images=images, domain_type="auto", shutdown_timeout_s=2)
    agent = Agent(live_region.api.base_url, agent_dir, [driver], join_token=live_region.join_token())
    try:
        agent.tick()
        api = live_region.api
        w = api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.small", name="real-guest"))
        try:
            wait(lambda: api.get_workload(w.id).state.value == "running", 60, "running", agent.tick)
        except AssertionError:
            raise AssertionError(f"not running: {api.get_workload(w.id)!r}") from None
        host = api.get_host(api.get_workload(w.id).host_id or "")
        assert host.name == "hv-real" and host.allocated.vcpus == 1

        console = images.console_log(w.id)
        marker = f"civicloud-guest: workload {w.id} up"
        wait(lambda: console.exists() and marker in console.read_text(errors="replace"), 90, "the guest's marker line")
        overlay = images.overlay(w.id)
        assert overlay.exists()
        info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(overlay)], capture_output=True, text=True,
                              check=True).stdout
        assert str(guest.base.resolve()) in info  # a copy-on-write overlay on the base image
        # Its NoCloud seed, attached read-only (what cloud-init reads in a cloud image; the test guest ignores it).
        seed = images.seed(w.id)
        assert seed.exists() and seed.read_bytes()[0x8001:0x8006] == b"CD001"  # an ISO 9660 volume
        conn = libvirt.open(qemu_uri)
        try:
            live = conn.lookupByName(DOMAIN_PREFIX + w.id).XMLDesc(0)
        finally:
            conn.close()
        assert "device='cdrom'" in live and str(seed.resolve()) in live and "<readonly/>" in live

        # The agent samples the real guest: QEMU's CPU time, the balloon's memory, the VirtIO disk's bytes.
        assert agent.sample() == 1
        agent.flush()
        (sample,) = api.workload_samples(w.id)
        assert sample.vcpus == 1 and sample.memory_mib == 512
        assert sample.cpu_time_ns > 0 and sample.disk_read_bytes > 0  # it booted: it ran and read its disk

        api.stop_workload(w.id)
        wait(lambda: api.get_workload(w.id).state.value == "stopped", 60, "stopped", agent.tick)
        api.delete_workload(w.id)
        wait(lambda: api.get_workload(w.id).state.value == "deleted", 60, "deleted", agent.tick)

        conn = libvirt.open(qemu_uri)
        try:
            assert DOMAIN_PREFIX + w.id not in [d.name() for d in conn.listAllDomains()]
        finally:
            conn.close()
        assert not overlay.exists() and not console.exists() and not seed.exists()
        assert api.get_host(host.id).allocated.vcpus == 0
    finally:
        agent.close()


def test_inventory_counts_what_is_not_ours_as_the_owners(qemu_uri: str, guest: BootImage, agent_dir: Path) -> None:
    """On a real host the owner's load comes from libvirt's host memory statistics."""
    conn = libvirt.open(qemu_uri)
    try:
        stats = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
    finally:
        conn.close()
    inv = LibvirtDriver(qemu_uri, "hv-real", images=GuestImages(agent_dir, guest)).inventory()
    assert inv.memory_mib == stats["total"] // 1024
    used_mib = (stats["total"] - stats["free"] - stats.get("buffers", 0) - stats.get("cached", 0)) // 1024
    # The host's own processes are the owner's too: the report is the host's use, give or take what moved.
    assert 0 < inv.owner_memory_mib <= stats["total"] // 1024
    assert abs(inv.owner_memory_mib - used_mib) < max(256, used_mib // 4)


def test_host_cpu_load_comes_from_libvirt_cpu_statistics(qemu_uri: str, guest: BootImage, agent_dir: Path) -> None:
    driver = LibvirtDriver(qemu_uri, "hv-real", images=GuestImages(agent_dir, guest))
    assert driver.inventory().cpu_busy_percent is None  # one reading is no interval
    busy_until = time.monotonic() + 0.5
    while time.monotonic() < busy_until:  # load one core for half a second
        pass
    load = driver.inventory().cpu_busy_percent
    assert load is not None and 0 < load <= 100
