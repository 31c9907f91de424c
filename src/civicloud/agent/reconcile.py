"""Pure reconciliation: what the control plane wants vs what the hypervisors show -> actions.

No I/O here (an import-linter contract forbids it), so every case is a row in
a table test. The agent applies the actions with its drivers, then reads the
hypervisors again and reports what it sees.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Power = Literal["running", "stopped"]
DesiredPower = Literal["running", "stopped", "absent"]


@dataclass(frozen=True)
class Nic:
    """A guest's NIC on a tenant network: its port's MAC, the bridge and tap of the data plane, and what the
    guest is told of its network (its NoCloud seed): its address with the subnet's prefix, the gateway, DNS."""

    mac: str
    bridge: str
    tap: str
    address: str = ""  # a.b.c.d/len
    gateway: str = ""
    dns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Desired:
    workload_id: str
    name: str
    host: str
    power: DesiredPower
    vcpus: int = 1
    memory_mib: int = 512
    disk_gib: int = 0
    offering: str = ""  # picks the guest image on a real host
    stop_at: datetime | None = None  # evicted: stop it from this instant on, whatever else is wanted
    reboot_after: datetime | None = None  # the last reboot asked for
    # Its NICs, when the host programs tenant networks (agent/netplan.py); set at definition.
    nics: tuple[Nic, ...] = ()

    def power_at(self, now: datetime | None) -> DesiredPower:
        """What is wanted at ``now``: past an eviction deadline, a running workload is wanted stopped."""
        if self.power == "running" and self.stop_at is not None and now is not None and now >= self.stop_at:
            return "stopped"
        return self.power


@dataclass(frozen=True)
class Actual:
    """A domain civicloud owns (tagged with its metadata) on one of the agent's hosts."""

    workload_id: str
    host: str
    power: Power
    size: tuple[int, int, int] | None = None  # (vcpus, memory_mib, disk_gib) it was defined with, when known


@dataclass(frozen=True)
class _WithDesired:
    """An action that needs the whole wanted definition, not only the workload and host."""

    desired: Desired

    @property
    def workload_id(self) -> str:
        return self.desired.workload_id

    @property
    def host(self) -> str:
        return self.desired.host


@dataclass(frozen=True)
class Define(_WithDesired):
    """Create the domain as wanted (stopped)."""


@dataclass(frozen=True)
class Resize(_WithDesired):
    """Give a stopped domain the size its (new) offering says: vCPUs, memory, and a larger disk."""


@dataclass(frozen=True)
class Reboot:
    """Power-cycle a running domain once: its member asked for a reboot after it started."""

    workload_id: str
    host: str


@dataclass(frozen=True)
class Start:
    workload_id: str
    host: str


@dataclass(frozen=True)
class Stop:
    workload_id: str
    host: str


@dataclass(frozen=True)
class Undefine:
    workload_id: str
    host: str


Action = Define | Reboot | Resize | Start | Stop | Undefine
# Removals first: they free capacity the definitions and starts may need; a resize before the start.
_ORDER = {Stop: 0, Undefine: 1, Define: 2, Resize: 3, Start: 4, Reboot: 5}


def reconcile(desired: Iterable[Desired], actual: Iterable[Actual], hosts: Sequence[str],
              now: datetime | None = None, rebooted: Mapping[str, datetime] | None = None) -> list[Action]:
    """The actions that bring ``actual`` to ``desired`` on the agent's ``hosts`` at ``now``.

    - a workload wanted running or stopped has exactly one domain, on its host,
      in that power state;
    - a domain of a workload wanted absent, unknown to the control plane, on
      the wrong host, or a duplicate, is stopped and undefined;
    - a workload placed on a host this agent does not drive is left alone, its
      domains included: a host renamed on the command line, or a second agent
      of the site, must never make this one destroy running guests;
    - domains without civicloud's metadata never reach this function: the
      owner's own virtual machines are not ours to touch;
    - an evicted workload whose deadline has come is stopped, never started;
    - a stopped domain whose size differs from its offering's (its member resized it) is resized
      before it starts again; a running one keeps its size until it is stopped;
    - a running domain is power-cycled when its member asked for a reboot that ``rebooted`` (the
      reboot each workload last had, as the agent recorded it) does not show done yet.
    """
    rebooted = rebooted or {}
    wanted = {d.workload_id: d for d in desired}
    found: dict[str, list[Actual]] = defaultdict(list)
    for a in actual:
        found[a.workload_id].append(a)
    known_hosts = set(hosts)
    actions: list[Action] = []

    for workload_id in sorted(set(wanted) | set(found)):
        d = wanted.get(workload_id)
        if d is not None and d.host not in known_hosts:
            continue  # not ours to judge: see the docstring
        power = d.power_at(now) if d is not None else "absent"
        domains = sorted(found.get(workload_id, []), key=lambda a: (a.host, a.power))
        keep: Actual | None = None
        if d is not None and power != "absent":
            on_host = [a for a in domains if a.host == d.host]
            keep = on_host[0] if on_host else None
        for a in domains:
            if a is keep:
                continue
            if a.power == "running":
                actions.append(Stop(a.workload_id, a.host))
            actions.append(Undefine(a.workload_id, a.host))
        if d is None or power == "absent":
            continue
        if keep is None:
            if d.stop_at is None or power == "running":  # past its deadline, an evicted one is not re-created
                actions.append(Define(d))
            if power == "running":
                actions.append(Start(d.workload_id, d.host))
        elif power == "running" and keep.power == "stopped":
            if _resized(d, keep):
                actions.append(Resize(d))
            actions.append(Start(d.workload_id, d.host))
        elif keep.power == "stopped" and _resized(d, keep):
            actions.append(Resize(d))
        elif power == "stopped" and keep.power == "running":
            actions.append(Stop(d.workload_id, d.host))
        elif power == "running" and keep.power == "running" and d.reboot_after is not None:
            done = rebooted.get(d.workload_id)
            if done is None or done < d.reboot_after:
                actions.append(Reboot(d.workload_id, d.host))
    return sorted(actions, key=lambda act: _ORDER[type(act)])


def _resized(d: Desired, a: Actual) -> bool:
    return a.size is not None and a.size != (d.vcpus, d.memory_mib, d.disk_gib)


def observe(desired: Iterable[Desired], actual: Iterable[Actual], failures: dict[str, str],
            hosts: Sequence[str]) -> list[tuple[str, str, str]]:
    """What to report for each wanted workload on one of ``hosts``: (workload_id, observed, message).

    Workloads placed on hosts this agent does not drive are not reported: "absent" from here would
    tell the control plane a domain is gone that this agent cannot see."""
    known = set(hosts)
    by_id: dict[str, list[Actual]] = defaultdict(list)
    for a in actual:
        by_id[a.workload_id].append(a)
    out = []
    for d in desired:
        if d.host not in known:
            continue
        if d.workload_id in failures:
            out.append((d.workload_id, "failed", failures[d.workload_id]))
            continue
        on_host = [a for a in by_id.get(d.workload_id, []) if a.host == d.host]
        if on_host:
            out.append((d.workload_id, on_host[0].power, f"{on_host[0].power} on {d.host}"))
        else:
            out.append((d.workload_id, "absent", f"no domain on {d.host}"))
    return out
