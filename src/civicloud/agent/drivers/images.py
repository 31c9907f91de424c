"""Guest images on a libvirt host: a base qcow2 per offering, one copy-on-write overlay per workload.

A site keeps its own images (a qcow2 per offering, passed to the agent with
``--image OFFERING=PATH``); the project's tiny test guest
(``scripts/build-guest-image.sh``: a Debian cloud kernel and a busybox
initramfs) serves any offering without one of its own. Overlays and serial
console logs live under the agent's state directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from civicloud.agent.drivers.base import DriverError

_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class BootImage:
    base: Path  # qcow2, the read-only backing file of every overlay made from it
    kernel: Path | None = None  # direct kernel boot (the test guest); None: boot from the disk
    initrd: Path | None = None
    cmdline: str = "console=ttyS0"

    @classmethod
    def test_guest(cls, directory: Path) -> BootImage:
        """The guest ``scripts/build-guest-image.sh`` builds in ``directory``."""
        return cls(directory / "base.qcow2", directory / "vmlinuz", directory / "initrd.img",
                   "console=ttyS0 quiet")


class GuestImages:
    def __init__(self, state_dir: Path, default: BootImage | None = None,
                 per_offering: Mapping[str, BootImage] | None = None) -> None:
        self.disks = state_dir / "disks"
        self.consoles = state_dir / "consoles"
        self.default = default
        self.per_offering = dict(per_offering or {})

    def for_offering(self, offering: str) -> BootImage:
        image = self.per_offering.get(offering, self.default)
        if image is None:
            raise DriverError(f"no guest image for offering {offering!r} on this host; give the agent "
                              f"--image {offering}=/path/base.qcow2", code="civicloud.driver.no_image")
        missing = [p for p in (image.base, image.kernel, image.initrd) if p is not None and not p.exists()]
        if missing:
            raise DriverError(f"guest image file(s) missing: {', '.join(map(str, missing))}",
                              code="civicloud.driver.no_image")
        return image

    def overlay(self, workload_id: str) -> Path:
        return self.disks / f"civicloud-{_safe(workload_id)}.qcow2"

    def console_log(self, workload_id: str) -> Path:
        return self.consoles / f"civicloud-{_safe(workload_id)}.log"

    def seed(self, workload_id: str) -> Path:
        """The workload's NoCloud seed (``agent.seed``), beside its disk."""
        return self.disks / f"civicloud-{_safe(workload_id)}-seed.iso"

    def write_seed(self, workload_id: str, data: bytes) -> Path:
        """Write the seed whole (a temporary file renamed over it), readable by the hypervisor's user."""
        path = self.seed(workload_id)
        partial = path.with_suffix(".iso.partial")
        partial.write_bytes(data)
        partial.chmod(0o644)
        partial.replace(path)
        return path

    def create_overlay(self, workload_id: str, image: BootImage, size_gib: int) -> Path:
        """A qcow2 overlay on the offering's base image; kept if it exists (a re-define after a crash)."""
        path = self.overlay(workload_id)
        if path.exists():
            return path
        self.disks.mkdir(parents=True, exist_ok=True)
        self.consoles.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.base.resolve()), "-F", "qcow2", str(tmp)]
        if size_gib > 0:
            cmd.append(f"{size_gib}G")
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise DriverError("qemu-img is not installed; run scripts/libvirtd.sh or apt-get install qemu-utils",
                              code="civicloud.driver.no_qemu_img") from None
        except subprocess.CalledProcessError as exc:
            raise DriverError(f"qemu-img could not create {path}: {exc.stderr.strip()}",
                              code="civicloud.driver.image_failed") from None
        # The rename is atomic: a crash never leaves a half-made overlay under the real name.
        os.replace(tmp, path)
        return path

    def grow(self, workload_id: str, size_gib: int) -> None:
        """Grow a workload's overlay to ``size_gib`` (never shrinks it: a disk only grows)."""
        path = self.overlay(workload_id)
        if size_gib <= 0 or not path.exists():
            return
        try:
            info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                                  capture_output=True, text=True, timeout=60)
            if json.loads(info.stdout)["virtual-size"] >= size_gib << 30:
                return
            subprocess.run(["qemu-img", "resize", "-q", str(path), f"{size_gib}G"], check=True,
                           capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise DriverError("qemu-img is not installed; run scripts/libvirtd.sh or apt-get install qemu-utils",
                              code="civicloud.driver.no_qemu_img") from None
        except (subprocess.CalledProcessError, ValueError, KeyError) as exc:
            raise DriverError(f"qemu-img could not grow {path}: {getattr(exc, 'stderr', exc)}",
                              code="civicloud.driver.image_failed") from None

    def remove(self, workload_id: str) -> None:
        for path in (self.overlay(workload_id), self.overlay(workload_id).with_suffix(".partial"),
                     self.console_log(workload_id), self.seed(workload_id)):
            path.unlink(missing_ok=True)


def _safe(workload_id: str) -> str:
    if not _SAFE.match(workload_id):
        raise DriverError(f"workload id {workload_id!r} cannot name a file", code="civicloud.driver.bad_id")
    return workload_id


def kvm_works() -> bool:
    """KVM is usable when /dev/kvm opens and the CPU exposes hardware virtualisation (vmx or svm).

    In a virtual machine without nested virtualisation /dev/kvm may exist while guests hang at boot:
    the missing CPU flag is what tells the two apart."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.MULTILINE))


def domain_type(setting: str) -> str:
    """``kvm`` or ``qemu`` (software emulation): forced by ``setting``, or detected when it is ``auto``."""
    if setting in ("kvm", "qemu"):
        return setting
    return "kvm" if kvm_works() else "qemu"
