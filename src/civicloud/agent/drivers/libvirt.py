"""The libvirt driver: any libvirt URI (test:///default in demos and tests, qemu:///system on a site).

Every domain it creates is named ``civicloud-<workload id>``, has the
workload id as its UUID, and carries civicloud metadata in its XML; that
metadata is how the agent tells its own domains from the owner's.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import libvirt

from civicloud.agent.drivers.base import DriverError, HostInventory
from civicloud.agent.reconcile import Actual, Desired

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
    features = frozenset({"define", "start", "stop", "undefine", "inventory"})

    def __init__(self, uri: str, name: str | None = None) -> None:
        _silence_libvirt_stderr()
        self.uri = uri
        try:
            self._conn = libvirt.open(uri)
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot open libvirt at {uri}: {exc.get_error_message()}; check the URI and "
                              "that libvirtd runs", code="civicloud.driver.unreachable") from exc
        self.name = name or self._conn.getHostname()
        self._type = self._conn.getType()  # "TEST", "QEMU", …

    def close(self) -> None:
        try:
            self._conn.close()
        except libvirt.libvirtError:
            pass

    def inventory(self) -> HostInventory:
        with self._errors("read the host's inventory"):
            _model, memory_mib, cpus, *_rest = self._conn.getInfo()
            disk_bytes = max((p.info()[1] for p in self._conn.listAllStoragePools() if p.isActive()), default=0)
            owner_vcpus = owner_kib = 0
            for dom in self._conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                if self._workload_id(dom) is None:
                    _state, _max_kib, mem_kib, vcpus, _cpu_time = dom.info()
                    owner_vcpus += vcpus
                    owner_kib += mem_kib
        return HostInventory(self.name, self.uri, int(cpus), int(memory_mib), int(disk_bytes // (1 << 30)),
                             owner_vcpus, owner_kib // 1024)

    def domains(self) -> list[Actual]:
        out = []
        with self._errors("list domains"):
            for dom in self._conn.listAllDomains():
                workload_id = self._workload_id(dom)
                if workload_id is None:
                    continue  # the owner's own VM, or another tool's: never ours
                state, _reason = dom.state()
                out.append(Actual(workload_id, self.name, _POWER.get(state, "stopped")))  # type: ignore[arg-type]
        return out

    def define(self, spec: Desired) -> None:
        with self._errors(f"define the domain of workload {spec.workload_id}"):
            self._conn.defineXML(self.domain_xml(spec))

    def start(self, workload_id: str) -> None:
        with self._errors(f"start workload {workload_id}"):
            dom = self._lookup(workload_id)
            if not dom.isActive():
                dom.create()

    def stop(self, workload_id: str) -> None:
        # The graceful shutdown with a timeout belongs with real guests; here we power off.
        with self._errors(f"stop workload {workload_id}"):
            dom = self._lookup(workload_id)
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

    def domain_xml(self, spec: Desired) -> str:
        dom_type = "test" if self._type == "TEST" else "qemu"
        return f"""<domain type='{dom_type}'>
  <name>{DOMAIN_PREFIX}{escape(spec.workload_id)}</name>
  <uuid>{_as_uuid(spec.workload_id)}</uuid>
  <title>{escape(spec.name)}</title>
  <metadata>
    <{METADATA_PREFIX}:workload xmlns:{METADATA_PREFIX}='{METADATA_NS}'>
      <{METADATA_PREFIX}:id>{escape(spec.workload_id)}</{METADATA_PREFIX}:id>
      <{METADATA_PREFIX}:name>{escape(spec.name)}</{METADATA_PREFIX}:name>
    </{METADATA_PREFIX}:workload>
  </metadata>
  <memory unit='MiB'>{int(spec.memory_mib)}</memory>
  <vcpu>{int(spec.vcpus)}</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
</domain>"""

    def _lookup(self, workload_id: str) -> Any:
        return self._conn.lookupByName(DOMAIN_PREFIX + workload_id)

    @staticmethod
    def _workload_id(dom: Any) -> str | None:
        if not dom.name().startswith(DOMAIN_PREFIX):
            return None
        try:
            xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
        except libvirt.libvirtError:
            return None  # a look-alike name without our metadata is not ours
        try:
            found = ElementTree.fromstring(xml).findtext("id")
        except ElementTree.ParseError:
            return None
        return found.strip() if found else None

    def _errors(self, doing: str) -> _Translate:
        return _Translate(doing, self.name)


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

