"""The agent: join once, then loop — heartbeat, pull desired state, reconcile, report."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from civicloud.agent.drivers import Driver, DriverError
from civicloud.agent.reconcile import (
    Action,
    Actual,
    Define,
    Desired,
    Start,
    Stop,
    Undefine,
    observe,
    reconcile,
)
from civicloud.client import AgentClient, ApiError
from civicloud.errors import CivicloudError, InvalidInput, Unauthorized, Unavailable
from civicloud.wire import Heartbeat, HostReport, ObservedWorkload, Report

log = logging.getLogger(__name__)
CREDENTIAL_FILE = "credential.json"


@dataclass
class TickResult:
    actions: list[Action] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    reported: int = 0


class Agent:
    """One site's agent. ``drivers`` are its hosts; ``state_dir`` keeps the site credential."""

    def __init__(self, server_url: str, state_dir: Path, drivers: Sequence[Driver], *,
                 join_token: str | None = None, agent_name: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not drivers:
            raise InvalidInput("an agent drives at least one host; pass --libvirt-uri",
                               code="civicloud.agent.no_host")
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
        self.site_id, credential = self._credential()
        self.client = AgentClient(server_url, token=credential, transport=transport)

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
        with AgentClient(self.server_url, transport=self._transport) as anon:
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
                                      owner_vcpus_used=inv.owner_vcpus, owner_memory_mib_used=inv.owner_memory_mib))
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
        """One pass. Raises Unavailable when the control plane is out of reach: nothing is changed then."""
        self.heartbeat()
        desired = [Desired(w.workload_id, w.name, w.host_name, w.desired.value, w.vcpus, w.memory_mib,
                           w.disk_gib, w.offering) for w in self.client.desired().workloads]
        actual, listed = self.actual()
        # Only hosts whose domains could be listed are reconciled: acting on a partial view would
        # take "not listed" for "absent" and define duplicates.
        actions = reconcile(desired, actual, listed)
        failures = self.apply(actions)
        actual, listed = self.actual()
        observed = observe(desired, actual, failures, listed)
        report = Report(workloads=[ObservedWorkload(workload_id=i, observed=o, message=_printable(m))  # type: ignore[arg-type]
                                   for i, o, m in observed])
        if report.workloads:
            self.client.report(report)
        return TickResult(actions, failures, len(report.workloads))

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
        elif isinstance(action, Start):
            driver.start(action.workload_id)
        elif isinstance(action, Stop):
            driver.stop(action.workload_id)
        elif isinstance(action, Undefine):
            driver.undefine(action.workload_id)

    def run(self, interval_s: float, stop: threading.Event | None = None,
            on_tick: Callable[[TickResult], None] | None = None) -> None:
        """Loop until ``stop`` is set. The control plane being away is waited out, not fatal."""
        stop = stop or threading.Event()
        backoff = interval_s
        while not stop.is_set():
            try:
                result = self.tick()
                backoff = interval_s
                if on_tick:
                    on_tick(result)
            except ApiError as exc:
                if exc.status == 401:
                    raise  # the credential was revoked: a person must act
                log.warning("control plane refused a call (%s): %s", exc.code, exc.message)
            except Unavailable as exc:
                backoff = min(backoff * 2, 30.0)
                log.warning("%s; retrying in %.0f s", exc.message, backoff)
            except CivicloudError as exc:
                log.warning("tick failed (%s): %s", exc.code, exc.message)
            except Exception:  # a bug or an odd answer must not end the agent: the owner's guests need it
                log.exception("tick crashed; retrying at the next one")
            stop.wait(backoff)

    def close(self) -> None:
        self.client.close()
        for driver in self.drivers.values():
            driver.close()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(message: str) -> str:
    """Hypervisor messages may carry control characters; the API refuses them in text fields."""
    return _CONTROL.sub(" ", message)[:2000]
