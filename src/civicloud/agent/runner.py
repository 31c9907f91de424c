"""The agent: join once, then loop — sample, heartbeat, pull desired state, reconcile, report.

Reports and usage samples go through the spool (``agent/spool.py``): written
locally first, sent, forgotten once acknowledged. With the control plane out of
reach the agent keeps sampling into the spool and keeps its promises to the
owner: eviction deadlines it already knows are enforced from the last desired
state it received.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from civicloud.agent.drivers import Driver, DriverError
from civicloud.agent.drivers.netlink import NetlinkDataPlane
from civicloud.agent.netplan import Action as NetAction
from civicloud.agent.netplan import (
    GroupHere,
    HostNetworks,
    LocalPort,
    NetworkOnHost,
    RemotePort,
    RuleHere,
    bridge_name,
    digest,
    tap_name,
    wanted_keys,
)
from civicloud.agent.netplan import plan as netplan
from civicloud.agent.reconcile import (
    Action,
    Actual,
    Define,
    Desired,
    Nic,
    Reboot,
    Resize,
    Start,
    Stop,
    Undefine,
    observe,
    reconcile,
)
from civicloud.agent.spool import Spool
from civicloud.client import AgentClient, ApiError
from civicloud.clock import Clock, IdSource, random_ids, system_clock
from civicloud.errors import SERVER_SIDE, CivicloudError, Conflict, InvalidInput, Unauthorized, Unavailable
from civicloud.wire import (
    DataPlaneIn,
    DesiredWorkload,
    Heartbeat,
    HostNetworksOut,
    HostReport,
    NetworkHere,
    ObservedWorkload,
    Report,
    SecurityGroupHere,
    UsageBatch,
    UsageSampleIn,
)

log = logging.getLogger(__name__)
CREDENTIAL_FILE = "credential.json"
SAMPLE_BATCH = 500  # samples per POST /agent/usage when the spool drains


@dataclass
class TickResult:
    actions: list[Action] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    reported: int = 0
    sampled: int = 0


class Agent:
    """One site's agent. ``drivers`` are its hosts; ``state_dir`` keeps the site credential and the spool.

    ``sample_interval_s`` is how often each guest's usage is sampled; ``clock`` is the agent's notion of
    now (eviction deadlines and sampling instants are compared with it) and ``new_id`` makes the ids of its
    spooled reports and samples (``civicloud.clock``)."""

    def __init__(self, server_url: str, state_dir: Path, drivers: Sequence[Driver], *,
                 join_token: str | None = None, agent_name: str | None = None,
                 transport: httpx.BaseTransport | None = None, sample_interval_s: float = 60.0,
                 clock: Clock = system_clock, new_id: IdSource = random_ids, ca_file: str | None = None,
                 networks: TenantNetworks | None = None) -> None:
        if not drivers:
            raise InvalidInput("an agent drives at least one host; pass --libvirt-uri",
                               code="civicloud.agent.no_host")
        if networks is not None and len(drivers) != 1:
            raise InvalidInput("an agent that programs tenant networks (--tunnel-ip) drives the one host it runs on; "
                               "run one agent per host", code="civicloud.agent.networks_need_one_host")
        self.networks = networks
        self.network_errors: list[str] = []
        self.data_plane: DataPlaneIn | None = None  # what the last programming pass applied, for the heartbeat
        self._networks_applied: HostNetworks | None = None  # what the last pass made the host hold
        self._networks_checked_at: datetime | None = None
        names = [d.name for d in drivers]
        if len(set(names)) != len(names):
            raise InvalidInput(f"two hosts share a name ({', '.join(names)}); name them with --host NAME=URI",
                               code="civicloud.agent.duplicate_host")
        self.server_url = server_url
        self.state_dir = state_dir
        self.drivers = {d.name: d for d in drivers}
        self.agent_name = agent_name or socket.gethostname()
        self._join_token = join_token
        self._transport = transport
        self._ca_file = ca_file
        self.site_id, credential = self._credential()
        self.client = AgentClient(server_url, token=credential, transport=transport, ca_file=ca_file)
        self.spool = Spool(state_dir)
        self.sample_interval_s = sample_interval_s
        self._clock = clock
        self._new_id = new_id
        self._next_sample: datetime | None = None  # when the next sampling is due (None: at once)

    def _credential(self) -> tuple[str, str]:
        """The saved site credential, or a new one traded for the join token (then saved)."""
        path = self.state_dir / CREDENTIAL_FILE
        if path.exists():
            try:
                saved = json.loads(path.read_text())
                server, site_id, credential = saved["server"], saved["site_id"], saved["credential"]
            except (ValueError, KeyError, TypeError):
                raise InvalidInput(f"{path} is damaged; remove it and join again with a new join token",
                                   code="civicloud.agent.bad_credential_file") from None
            if server == self.server_url:
                return site_id, credential
            log.warning("saved credential is for %s, not %s; joining again", server, self.server_url)
        if not self._join_token:
            raise Unauthorized("this agent has not joined yet: pass --join-token (from "
                               "'civicloud site join-token SITE')", code="civicloud.agent.not_joined")
        with AgentClient(self.server_url, transport=self._transport, ca_file=self._ca_file) as anon:
            joined = anon.join(self._join_token, self.agent_name)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"server": self.server_url, "site_id": joined.site_id, "credential": joined.credential}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: a kill mid-write never leaves half a credential
        log.info("joined site %s", joined.site_id)
        return joined.site_id, joined.credential

    def heartbeat(self) -> None:
        """Report every host that answers; one host down must not silence the others."""
        reports = []
        for driver in self.drivers.values():
            try:
                inv = driver.inventory()
            except DriverError as exc:
                log.warning("host %s not reported: %s", driver.name, exc.message)
                continue
            reports.append(HostReport(name=inv.name, libvirt_uri=inv.uri, vcpus=inv.vcpus,
                                      memory_mib=inv.memory_mib, disk_gib=inv.disk_gib,
                                      owner_vcpus_used=inv.owner_vcpus, owner_memory_mib_used=inv.owner_memory_mib,
                                      cpu_busy_percent=inv.cpu_busy_percent,
                                      tunnel_ip=self.networks.tunnel_ip if self.networks else None,
                                      data_plane=self.data_plane if self.networks else None))
        self.client.heartbeat(Heartbeat(hosts=reports))

    def actual(self) -> tuple[list[Actual], list[str]]:
        """civicloud's domains on every host that could be listed, and those hosts' names."""
        found: list[Actual] = []
        listed: list[str] = []
        for name, driver in self.drivers.items():
            try:
                found += driver.domains()
            except DriverError as exc:
                log.warning("host %s not listed, left as it is this pass: %s", name, exc.message)
                continue
            listed.append(name)
        return found, listed

    def tick(self) -> TickResult:
        """One pass. Raises Unavailable when the control plane is out of reach: then only what the agent
        promised on its own is done (sampling into the spool, stopping evicted guests at their deadline)."""
        now = self._clock()
        sampled = self.sample_if_due()
        try:
            self.heartbeat()
            state = self.client.desired()
        except (Unavailable, ApiError) as exc:
            if exc.kind not in SERVER_SIDE:
                raise  # the control plane answered and refused: nothing to do on our own
            self.enforce_deadlines(now)
            raise
        wanted = state.workloads
        self.spool.save_desired([w.model_dump(mode="json") for w in wanted], now.isoformat())
        if self.networks is not None:  # the bridges first: a domain's NICs go on them when it is defined
            self.program_networks(state.networks)
        desired = [_desired(w, self.networks is not None) for w in wanted]
        actual, listed = self.actual()
        # Only hosts whose domains could be listed are reconciled: acting on a partial view would
        # take "not listed" for "absent" and define duplicates.
        rebooted = self.spool.rebooted()
        actions = reconcile(desired, actual, listed, now, rebooted)
        failures = self.apply(actions)
        # A reboot request is settled once: carried out, or moot because the domain was not running (its next
        # start is a fresh boot anyway). A failed one is tried again at the next pass.
        self.spool.set_rebooted({d.workload_id: d.reboot_after for d in desired
                                 if d.reboot_after is not None and rebooted.get(d.workload_id) != d.reboot_after
                                 and d.host in listed and d.workload_id not in failures})
        reported = self._spool_report(desired, failures)
        self.flush()
        return TickResult(actions, failures, reported, sampled)

    def program_networks(self, wanted: Sequence[HostNetworksOut]) -> list[NetAction]:
        """Make the host hold the tenant networks the control plane wants there, and nothing more of ours."""
        assert self.networks is not None
        (host,) = self.drivers
        mine = next((h for h in wanted if h.host_name == host), None)
        plane = self.networks.plane
        desired = host_networks(self.networks.tunnel_ip, self.networks.mtu, mine.networks if mine else [],
                                mine.security_groups if mine else [])
        now = self._clock()
        if (desired == self._networks_applied and not self.network_errors and self._networks_checked_at is not None
                and now - self._networks_checked_at < timedelta(seconds=self.networks.resync_s)):
            return []
        try:
            actions = netplan(desired, plane.actual())
            self.network_errors = plane.apply(actions)
        except Exception as exc:  # the host's netlink or nft out of order: the domains are still reconciled
            log.warning("tenant networks not programmed this pass: %s", exc)
            self.network_errors, actions = [str(exc)], []
        self._networks_applied, self._networks_checked_at = desired, now
        # What the next heartbeat tells the control plane (errors as one line each, bounded as the API wants).
        self.data_plane = DataPlaneIn(
            networks=len(desired.networks), ports=sum(len(n.ports) for n in desired.networks),
            digest=digest(wanted_keys(desired)) if any(n.ports for n in desired.networks) else "",
            errors=[_printable(e)[:500] for e in self.network_errors[:20]])
        return actions

    def enforce_deadlines(self, now: datetime) -> list[Action]:
        """Stop the guests whose eviction deadline has come, from the last desired state received; the
        report of it waits in the spool for the control plane to come back."""
        due = [d for d in (_desired(DesiredWorkload.model_validate(x), False) for x in self.spool.desired())
               if d.stop_at is not None and d.power_at(now) == "stopped" and d.power == "running"]
        if not due:
            return []
        ids = {d.workload_id for d in due}
        actual, listed = self.actual()
        actions: list[Action] = [a for a in reconcile(due, [a for a in actual if a.workload_id in ids], listed, now)
                                 if isinstance(a, Stop)]
        if actions:
            log.warning("control plane out of reach: stopping %d evicted guest(s) at their deadline", len(actions))
            failures = self.apply(actions)
            self._spool_report(due, failures)
        return actions

    def _spool_report(self, desired: list[Desired], failures: dict[str, str]) -> int:
        actual, listed = self.actual()
        hosts = {d.workload_id: d.host for d in desired}
        report = Report(workloads=[ObservedWorkload(workload_id=i, observed=o, message=_printable(m),
                                                    host_name=hosts[i])
                                   for i, o, m in observe(desired, actual, failures, listed)])
        if report.workloads:
            self.spool.put("report", [(self._new_id(), report.model_dump(mode="json"))])
        return len(report.workloads)

    def sample_if_due(self) -> int:
        """Sample every running guest when the interval has passed; the samples go to the spool."""
        now = self._clock()
        if self._next_sample is not None and now < self._next_sample:
            return 0
        self._next_sample = now + timedelta(seconds=self.sample_interval_s)
        return self.sample()

    def sample(self) -> int:
        now = self._clock()
        items = []
        for name, driver in self.drivers.items():
            try:
                measured = driver.samples()
            except DriverError as exc:
                log.warning("host %s not sampled: %s", name, exc.message)
                continue
            for m in measured:
                sample = UsageSampleIn(id=self._new_id(), workload_id=m.workload_id, host_name=m.host,
                                       sampled_at=now, vcpus=m.vcpus, cpu_time_ns=m.cpu_time_ns,
                                       memory_mib=m.memory_mib, memory_used_mib=m.memory_used_mib,
                                       disk_read_bytes=m.disk_read_bytes, disk_write_bytes=m.disk_write_bytes,
                                       net_rx_bytes=m.net_rx_bytes, net_tx_bytes=m.net_tx_bytes)
                items.append((sample.id, sample.model_dump(mode="json")))
        self.spool.put("sample", items)
        return len(items)

    def flush(self) -> int:
        """Send what the spool holds, oldest first: reports one by one, samples in batches. Stops at the
        first failure to reach the control plane (the rest waits for the next pass); returns items sent."""
        sent = 0
        while batch := self.spool.peek("report", 1):
            item = batch[0]
            try:
                self.client.report(Report.model_validate(item.body))
            except ApiError as exc:
                if isinstance(exc, Unauthorized) or exc.kind in SERVER_SIDE:
                    raise
                log.error("control plane refused a spooled report for good (%s): %s; dropping it", exc.code,
                          exc.message)
            self.spool.ack([item.item_id])
            sent += 1
        while batch := self.spool.peek("sample", SAMPLE_BATCH):
            try:
                ack = self.client.usage(UsageBatch(samples=[UsageSampleIn.model_validate(i.body) for i in batch]))
            except ApiError as exc:
                if isinstance(exc, Unauthorized | Conflict) or exc.kind in SERVER_SIDE:
                    raise  # a conflict: a concurrent delivery of the same samples; the next pass sends them again
                log.error("control plane refused %d spooled samples for good (%s): %s; dropping them",
                          len(batch), exc.code, exc.message)
            else:
                for r in ack.rejected:  # refused for good (domain/usage.py): acknowledged all the same, dropped
                    log.warning("sample %s refused (%s): %s", r.id, r.code, r.reason)
            self.spool.ack([i.item_id for i in batch])
            sent += len(batch)
        return sent

    def next_deadline(self) -> datetime | None:
        """The nearest eviction deadline still ahead, from the last desired state received."""
        now = self._clock()
        ahead = [d for d in (DesiredWorkload.model_validate(x).stop_at for x in self.spool.desired())
                 if d is not None and d > now]
        return min(ahead, default=None)

    def apply(self, actions: Sequence[Action]) -> dict[str, str]:
        failures: dict[str, str] = {}
        for action in actions:
            if action.workload_id in failures:
                continue  # an earlier step for this workload failed; the next tick retries
            try:
                self._apply_one(action)
            except DriverError as exc:
                log.warning("%s", exc.message)
                failures[action.workload_id] = exc.message
        return failures

    def _apply_one(self, action: Action) -> None:
        driver = self.drivers[action.host]
        log.info("%s %s on %s", type(action).__name__.lower(), action.workload_id, action.host)
        if isinstance(action, Define):
            driver.define(action.desired)
        elif isinstance(action, Resize):
            driver.resize(action.desired)
        elif isinstance(action, Start):
            driver.start(action.workload_id)
        elif isinstance(action, Reboot):
            driver.stop(action.workload_id)  # graceful, then power-off after the driver's timeout
            driver.start(action.workload_id)
        elif isinstance(action, Stop):
            driver.stop(action.workload_id)
        elif isinstance(action, Undefine):
            driver.undefine(action.workload_id)

    def run(self, interval_s: float, stop: threading.Event | None = None,
            on_tick: Callable[[TickResult], None] | None = None) -> None:
        """Loop until ``stop`` is set. The control plane being away is waited out, not fatal; an eviction
        deadline or a sampling instant coming before the next pass wakes the loop on time."""
        stop = stop or threading.Event()
        backoff = interval_s
        while not stop.is_set():
            try:
                result = self.tick()
                backoff = interval_s
                if on_tick:
                    on_tick(result)
            except Unavailable as exc:  # unreachable, or a 503 answer (an ApiError of kind unavailable too)
                backoff = min(backoff * 2, 30.0)
                log.warning("%s; retrying in %.0f s", exc.message, backoff)
            except ApiError as exc:
                if isinstance(exc, Unauthorized):
                    raise  # the credential was revoked: a person must act
                log.warning("control plane refused a call (%s): %s", exc.code, exc.message)
            except CivicloudError as exc:
                log.warning("tick failed (%s): %s", exc.code, exc.message)
            except Exception:  # a bug or an odd answer must not end the agent: the owner's guests need it
                log.exception("tick crashed; retrying at the next one")
            stop.wait(self._wait(backoff))

    def _wait(self, backoff: float) -> float:
        now = self._clock()
        due = 0.0 if self._next_sample is None else (self._next_sample - now).total_seconds()
        wait = min(backoff, max(0.0, due))
        deadline = self.next_deadline()
        if deadline is not None:
            wait = min(wait, max(0.0, (deadline - now).total_seconds()) + 0.01)
        return wait

    def close(self) -> None:
        self.client.close()
        self.spool.close()
        for driver in self.drivers.values():
            driver.close()


def _desired(w: DesiredWorkload, with_nics: bool) -> Desired:
    nics = tuple(Nic(n.mac, bridge_name(n.vni), tap_name(n.port_id), _address(n.ip, n.cidr), n.gateway,
                     tuple(n.dns)) for n in w.nics) if with_nics else ()
    return Desired(w.workload_id, w.name, w.host_name, w.desired.value, w.vcpus, w.memory_mib, w.disk_gib,
                   w.offering, w.stop_at, w.reboot_after, nics)


def _address(ip: str, cidr: str) -> str:
    """``ip/len`` with the prefix length of its subnet (just ``ip`` when the control plane gave no subnet)."""
    return f"{ip}/{cidr.partition('/')[2]}" if "/" in cidr else ip


@dataclass(frozen=True)
class TenantNetworks:
    """The agent programs its host's tenant networks (agent/netplan.py): the host's address on the sites'
    underlay, the underlay's MTU, and the data plane that carries out the plan."""

    tunnel_ip: str
    mtu: int
    plane: NetlinkDataPlane
    # Reading a host back costs ~1 s at 2,000 ports (pyroute2 decoding every link): a pass whose wanted networks
    # did not change since a clean one reads and checks the host only this often (a wiped host is repaired then).
    resync_s: float = 60.0


def host_networks(tunnel_ip: str, mtu: int, wanted: Sequence[NetworkHere],
                  groups: Sequence[SecurityGroupHere] = ()) -> HostNetworks:
    return HostNetworks(tunnel_ip, mtu, tuple(
        NetworkOnHost(n.network_id, n.vni,
                      tuple(LocalPort(p.port_id, p.mac, p.ip, tuple(p.security_groups)) for p in n.ports),
                      tuple(n.peers), tuple(RemotePort(r.mac, r.tunnel_ip, r.ip, tuple(r.security_groups))
                                            for r in n.remote)) for n in wanted),
        tuple(GroupHere(g.id, tuple(RuleHere(r.id, r.direction, r.protocol, r.port_min, r.port_max, r.remote_cidr,
                                             r.remote_group_id) for r in g.rules)) for g in groups))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(message: str) -> str:
    """Hypervisor messages may carry control characters; the API refuses them in text fields."""
    return _CONTROL.sub(" ", message)[:2000]
