"""The libvirt driver: any libvirt URI (test:///default in demos and tests, qemu:///system on a site).

Every domain it creates is named ``civicloud-<workload id>``, has the
workload id as its UUID, and carries civicloud metadata in its XML; that
metadata is how the agent tells its own domains from the owner's.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import libvirt

from civicloud.agent.drivers.base import DomainSample, DriverError, HostInventory
from civicloud.agent.drivers.images import BootImage, GuestImages
from civicloud.agent.drivers.images import domain_type as detect_domain_type
from civicloud.agent.reconcile import Actual, Desired
from civicloud.agent.seed import seed_files, seed_iso

METADATA_NS = "urn:civicloud:libvirt:workload:1"
METADATA_PREFIX = "civicloud"
DOMAIN_PREFIX = "civicloud-"

# libvirt's states -> ours. A paused domain still holds its resources: it counts as running.
_POWER = {
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "running",
    libvirt.VIR_DOMAIN_PAUSED: "running",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "running",
    libvirt.VIR_DOMAIN_SHUTDOWN: "running",  # shutting down: not off yet
    libvirt.VIR_DOMAIN_SHUTOFF: "stopped",
    libvirt.VIR_DOMAIN_CRASHED: "stopped",
    libvirt.VIR_DOMAIN_NOSTATE: "stopped",
}

ElementTree.register_namespace(METADATA_PREFIX, METADATA_NS)  # our metadata keeps its prefix when re-serialised
_silence_lock = threading.Lock()
_silenced = False


def _silence_libvirt_stderr() -> None:
    """libvirt prints every error to stderr by default; we translate them instead."""
    global _silenced
    with _silence_lock:
        if not _silenced:
            libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
            _silenced = True


class LibvirtDriver:
    features = frozenset({"define", "start", "stop", "undefine", "resize", "inventory", "owner_load", "samples"})

    def __init__(self, uri: str, name: str | None = None, *, images: GuestImages | None = None,
                 domain_type: str = "auto", shutdown_timeout_s: float = 10.0) -> None:
        _silence_libvirt_stderr()
        self.uri = uri
        self.images = images
        self.shutdown_timeout_s = shutdown_timeout_s
        try:
            self._conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot open libvirt at {uri}: {exc.get_error_message()}; check the URI and "
                              "that libvirtd runs", code="civicloud.driver.unreachable") from exc
        self.name = name or self._conn.getHostname()
        self._cpu_before: tuple[int, int] | None = None  # (busy ns, total ns) at the previous inventory
        self._type = self._conn.getType()  # "TEST", "QEMU", …
        # libvirt's test driver gives the host's wall clock (ns since 1970) as every domain's CPU time, which
        # no guest could have used: there, CPU time counts from the domain's start (a guest busy on one vCPU),
        # so its samples pass the control plane's checks like a real guest's (domain/usage.py).
        self._test_cpu_origin: dict[str, int] = {}
        self.domain_type = "test" if self._type == "TEST" else detect_domain_type(domain_type)
        if self._type != "TEST":
            self.features = self.features | {"disk_overlay", "serial_console", "graceful_stop"}

    def close(self) -> None:
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass

    def _connection(self) -> Any:
        """The libvirt connection, opened again if libvirtd restarted under us."""
        try:
            if self._conn.isAlive():
                return self._conn
        except libvirt.libvirtError:
            pass
        try:
            self._conn = libvirt.open(self.uri)
        except libvirt.libvirtError as exc:
            raise DriverError(f"lost libvirt at {self.uri} and cannot reconnect: {exc.get_error_message()}",
                              code="civicloud.driver.unreachable") from exc
        return self._conn

    def inventory(self) -> HostInventory:
        with self._errors("read the host's inventory"):
            _model, memory_mib, cpus, *_rest = self._connection().getInfo()
            disk_bytes = max((p.info()[1] for p in self._connection().listAllStoragePools() if p.isActive()), default=0)
            if not disk_bytes and self.images is not None:  # no storage pool: the file system of the overlays
                self.images.disks.mkdir(parents=True, exist_ok=True)
                st = os.statvfs(self.images.disks)
                disk_bytes = st.f_blocks * st.f_frsize
            owner_vcpus = owner_kib = ours_kib = 0
            for dom in self._connection().listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                try:
                    _state, _max_kib, mem_kib, vcpus, _cpu_time = dom.info()
                except libvirt.libvirtError as exc:
                    if _vanished(exc):
                        continue  # stopped or undefined between the listing and this read
                    raise
                if self._workload_id(dom) is None:
                    owner_vcpus += vcpus
                    owner_kib += mem_kib
                else:
                    ours_kib += mem_kib
            stats = self._memory_stats()
        if stats is not None:
            # The host's own figures, where the driver has them: everything in use that is not one of our
            # guests is the owner's (its VMs, and the host's own system).
            memory_mib = stats["total"] // 1024
            used_kib = stats["total"] - stats["free"] - stats.get("buffers", 0) - stats.get("cached", 0)
            owner_kib = max(owner_kib, used_kib - ours_kib)
        return HostInventory(self.name, self.uri, int(cpus), int(memory_mib), int(disk_bytes // (1 << 30)),
                             owner_vcpus, max(0, owner_kib) // 1024, self._cpu_busy_percent())

    def _cpu_busy_percent(self) -> float | None:
        """The host's CPU load since the previous call, from libvirt's cumulative node CPU times."""
        try:
            stats = self._connection().getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)
        except libvirt.libvirtError:
            return None
        if "idle" not in stats:
            return None
        total = sum(int(v) for v in stats.values())
        busy = total - int(stats["idle"]) - int(stats.get("iowait", 0))
        before, self._cpu_before = self._cpu_before, (busy, total)
        if before is None or total <= before[1]:
            return None
        return round(min(100.0, max(0.0, 100.0 * (busy - before[0]) / (total - before[1]))), 1)

    def samples(self) -> list[DomainSample]:
        """CPU time, memory, disk and network counters of civicloud's running guests, in one libvirt call
        (``getAllDomainStats``); what a driver does not report there (the test driver) comes from info()."""
        wanted = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_BALLOON
                  | libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_INTERFACE | libvirt.VIR_DOMAIN_STATS_VCPU)
        out = []
        with self._errors("sample its guests"):
            active = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
            for dom, stats in self._connection().getAllDomainStats(wanted, active):
                workload_id = self._workload_id(dom)
                if workload_id is None:
                    continue
                try:
                    _state, _max_kib, mem_kib, vcpus, cpu_ns = dom.info()
                except libvirt.libvirtError:
                    continue  # gone between the two calls: nothing to measure
                if self._type == "TEST":
                    cpu_ns = max(0, cpu_ns - self._test_cpu_origin.setdefault(workload_id, cpu_ns))
                used = stats.get("balloon.rss")
                out.append(DomainSample(
                    workload_id, self.name, int(stats.get("vcpu.current", vcpus)), int(stats.get("cpu.time", cpu_ns)),
                    int(stats.get("balloon.current", mem_kib)) // 1024, None if used is None else int(used) // 1024,
                    _summed(stats, "block", "rd.bytes"), _summed(stats, "block", "wr.bytes"),
                    _summed(stats, "net", "rx.bytes"), _summed(stats, "net", "tx.bytes")))
        return out

    def _memory_stats(self) -> dict[str, int] | None:
        """libvirt's host memory statistics (KiB), or None where the driver has none (the test driver)."""
        try:
            stats = self._connection().getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
        except libvirt.libvirtError:
            return None
        return stats if "total" in stats and "free" in stats else None

    def domains(self) -> list[Actual]:
        out = []
        with self._errors("list domains"):
            for dom in self._connection().listAllDomains():
                ours = self._ours(dom)
                if ours is None:
                    continue  # the owner's own VM, or another tool's: never ours
                try:
                    state, _reason = dom.state()
                except libvirt.libvirtError as exc:
                    if _vanished(exc):
                        continue  # undefined between the listing and this read (the agent's own undefine, a person)
                    raise
                out.append(Actual(ours[0], self.name, _POWER.get(state, "stopped"), ours[1]))  # type: ignore[arg-type]
        return out

    def define(self, spec: Desired) -> None:
        if self.domain_type == "test":
            xml = self.domain_xml(spec)
        else:
            if self.images is None:
                raise DriverError(f"host {self.name} has no guest images configured; give the agent --guest-dir "
                                  "or --image OFFERING=PATH", code="civicloud.driver.no_image")
            image = self.images.for_offering(spec.offering)
            disk = self.images.create_overlay(spec.workload_id, image, spec.disk_gib)
            seed = self.images.write_seed(spec.workload_id, seed_iso(seed_files(spec.workload_id, spec.name,
                                                                                spec.nics)))
            xml = qemu_domain_xml(spec, self.domain_type, image, disk, self.images.console_log(spec.workload_id),
                                  seed)
        with self._errors(f"define the domain of workload {spec.workload_id}"):
            self._connection().defineXML(xml)

    def resize(self, spec: Desired) -> None:
        """Give a stopped domain its offering's new size: one defineXML of its own definition with new vCPUs,
        memory and size metadata (atomic: never a moment without civicloud's metadata), then a larger disk."""
        with self._errors(f"resize workload {spec.workload_id}"):
            dom = self._lookup(spec.workload_id)
            if dom.isActive():
                raise DriverError(f"workload {spec.workload_id} is running on {self.name}; it is resized once "
                                  "stopped", code="civicloud.driver.resize_running")
            root = ElementTree.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            for tag in ("memory", "currentMemory"):
                element = root.find(tag)
                if element is not None:
                    element.set("unit", "KiB")
                    element.text = str(int(spec.memory_mib) * 1024)
            vcpu = root.find("vcpu")
            if vcpu is not None:
                vcpu.text = str(int(spec.vcpus))
                vcpu.attrib.pop("current", None)
            meta = root.find("metadata")
            if meta is not None:
                for child in list(meta):
                    if child.tag.startswith("{" + METADATA_NS + "}"):
                        meta.remove(child)
                meta.append(ElementTree.fromstring(metadata_xml(spec)))
            self._connection().defineXML(ElementTree.tostring(root, encoding="unicode"))
        if self.images is not None and self.domain_type != "test":
            self.images.grow(spec.workload_id, spec.disk_gib)

    def start(self, workload_id: str) -> None:
        with self._errors(f"start workload {workload_id}"):
            dom = self._lookup(workload_id)
            if not dom.isActive():
                dom.create()
                if self._type == "TEST":
                    self._test_cpu_origin[workload_id] = dom.info()[4]

    def stop(self, workload_id: str) -> None:
        """Ask the guest to shut down (ACPI); power it off if it is still up after the timeout."""
        with self._errors(f"stop workload {workload_id}"):
            dom = self._lookup(workload_id)
            if not dom.isActive():
                return
            if self.domain_type != "test" and self.shutdown_timeout_s > 0:
                dom.shutdown()
                deadline = time.monotonic() + self.shutdown_timeout_s
                while dom.isActive() and time.monotonic() < deadline:
                    time.sleep(0.2)
            if dom.isActive():
                dom.destroy()

    def undefine(self, workload_id: str) -> None:
        with self._errors(f"undefine workload {workload_id}"):
            try:
                dom = self._lookup(workload_id)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return  # already gone: the outcome we wanted
                raise
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM if self._type == "QEMU" else 0)
        self._test_cpu_origin.pop(workload_id, None)
        if self.images is not None:
            self.images.remove(workload_id)  # the overlay and the console log go with the domain

    def domain_xml(self, spec: Desired) -> str:
        """The minimal domain of libvirt's test driver (no disk, no devices)."""
        return f"""<domain type='test'>
{identity_xml(spec)}
  <os><type arch='x86_64'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
</domain>"""

    def _lookup(self, workload_id: str) -> Any:
        return self._connection().lookupByName(DOMAIN_PREFIX + workload_id)

    @staticmethod
    def _workload_id(dom: Any) -> str | None:
        ours = LibvirtDriver._ours(dom)
        return ours[0] if ours else None

    @staticmethod
    def _ours(dom: Any) -> tuple[str, tuple[int, int, int] | None] | None:
        """(workload id, size it was defined with) of one of civicloud's domains; None for anybody else's."""
        if not dom.name().startswith(DOMAIN_PREFIX):
            return None
        try:
            xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
        except libvirt.libvirtError:
            return None  # a look-alike name without our metadata is not ours
        try:
            root = ElementTree.fromstring(xml)
        except ElementTree.ParseError:
            return None
        found = (root.findtext("id") or "").strip()
        # A copy of one of ours (an owner's virt-clone keeps the metadata) is not ours: only the domain
        # named after the workload is, so actions by name always reach the domain that was listed.
        if not found or dom.name() != DOMAIN_PREFIX + found:
            return None
        size_el = root.find("size")
        size = None
        if size_el is not None:
            try:
                size = (int(size_el.get("vcpus", "")), int(size_el.get("memory_mib", "")),
                        int(size_el.get("disk_gib", "")))
            except ValueError:
                size = None
        return found, size

    def _errors(self, doing: str) -> _Translate:
        return _Translate(doing, self.name)


def _summed(stats: dict[str, Any], group: str, counter: str) -> int:
    """Σ over a domain's disks (``block.0.rd.bytes``…) or interfaces (``net.0.rx.bytes``…) of one counter."""
    return sum(int(stats.get(f"{group}.{i}.{counter}", 0)) for i in range(int(stats.get(f"{group}.count", 0))))


class _Translate:
    """Turns libvirtError into DriverError, naming what we were doing and on which host."""

    def __init__(self, doing: str, host: str) -> None:
        self.doing, self.host = doing, host

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, libvirt.libvirtError):
            raise DriverError(f"could not {self.doing} on host {self.host}: {exc.get_error_message()}") from exc


def _as_uuid(workload_id: str) -> str:
    """The workload id when it is a UUID (so libvirt itself refuses a duplicate), else one derived from it."""
    try:
        return str(uuid.UUID(workload_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"civicloud:{workload_id}"))



def metadata_xml(spec: Desired) -> str:
    return (f"<{METADATA_PREFIX}:workload xmlns:{METADATA_PREFIX}='{METADATA_NS}'>"
            f"<{METADATA_PREFIX}:id>{escape(spec.workload_id)}</{METADATA_PREFIX}:id>"
            f"<{METADATA_PREFIX}:name>{escape(spec.name)}</{METADATA_PREFIX}:name>"
            f"<{METADATA_PREFIX}:offering>{escape(spec.offering)}</{METADATA_PREFIX}:offering>"
            f"<{METADATA_PREFIX}:size vcpus='{int(spec.vcpus)}' memory_mib='{int(spec.memory_mib)}' "
            f"disk_gib='{int(spec.disk_gib)}'/>"
            f"</{METADATA_PREFIX}:workload>")


def identity_xml(spec: Desired) -> str:
    """What every domain of ours starts with: its name, UUID, metadata and size."""
    return f"""  <name>{DOMAIN_PREFIX}{escape(spec.workload_id)}</name>
  <uuid>{_as_uuid(spec.workload_id)}</uuid>
  <title>{escape(spec.name)}</title>
  <metadata>{metadata_xml(spec)}</metadata>
  <memory unit='MiB'>{int(spec.memory_mib)}</memory>
  <vcpu>{int(spec.vcpus)}</vcpu>"""


def nics_xml(spec: Desired) -> str:
    """The guest's NICs: VirtIO, each with its port's MAC, its tap named as the data plane expects, on its
    network's bridge (which the agent made before defining the domain)."""
    return "\n".join(f"""    <interface type='bridge'>
      <mac address='{escape(nic.mac)}'/>
      <source bridge='{escape(nic.bridge)}'/>
      <target dev='{escape(nic.tap)}'/>
      <model type='virtio'/>
    </interface>""" for nic in spec.nics)


def qemu_domain_xml(spec: Desired, dom_type: str, image: BootImage, disk: Path, console_log: Path,
                    seed: Path | None = None) -> str:
    """A real guest: VirtIO disk on its overlay, its NoCloud seed as a read-only CD-ROM (``agent.seed``), serial
    console to a file, VNC on loopback, balloon stats."""
    cdrom = "" if seed is None else f"""
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='{escape(str(seed.resolve()))}'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>"""
    boot = ""
    if image.kernel is not None:
        cmdline = f"{image.cmdline} civicloud.workload={spec.workload_id}"
        boot = (f"<kernel>{escape(str(image.kernel.resolve()))}</kernel>"
                f"<initrd>{escape(str(image.initrd.resolve() if image.initrd else ''))}</initrd>"
                f"<cmdline>{escape(cmdline)}</cmdline>")
    cpu = "<cpu mode='host-passthrough'/>" if dom_type == "kvm" else ""
    return f"""<domain type='{dom_type}'>
{identity_xml(spec)}
  {cpu}
  <os><type arch='x86_64' machine='pc'>hvm</type>{boot}<boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='{escape(str(disk.resolve()))}'/>
      <target dev='vda' bus='virtio'/>
    </disk>{cdrom}
{nics_xml(spec)}
    <serial type='file'><source path='{escape(str(console_log.resolve()))}' append='on'/><target port='0'/></serial>
    <graphics type='vnc' listen='127.0.0.1' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>
    <memballoon model='virtio'><stats period='5'/></memballoon>
  </devices>
</domain>"""


def _vanished(exc: libvirt.libvirtError) -> bool:
    """libvirt says the domain no longer exists: it went between listing it and reading it."""
    return exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
