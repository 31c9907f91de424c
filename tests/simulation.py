"""The seed of the regional simulator: a region in one process, on simulated time.

The control plane is the real one — its services, its store (SQLite here), its control loop
(``services.loops.PlacementLoop``: reclaim, placement, the hourly roll-up) — on a ``FrozenClock`` that the
simulation moves. A site's agent is the real agent's decisions (``agent.reconcile``: what to define, start,
stop at an eviction deadline) over hypervisors kept in a dict, talking to the agent channel's services
(``services.agents``: heartbeat, desired state, report) instead of HTTP. Nothing sleeps: a simulated day
takes a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from civicloud.agent.reconcile import Actual, Define, Desired, Start, Stop, Undefine, observe, reconcile
from civicloud.clock import FrozenClock
from civicloud.services import agents
from civicloud.services.loops import PlacementLoop
from civicloud.store import UnitOfWork
from civicloud.wire import Heartbeat, HostReport, ObservedWorkload, Report


@dataclass
class SimulatedSite:
    """A site's agent and its hypervisors: the guests civicloud defined, and their power."""

    uow_factory: Callable[[], UnitOfWork]
    site_id: str
    hosts: list[HostReport]
    domains: dict[tuple[str, str], str] = field(default_factory=dict)  # (workload, host) -> running | stopped
    stopped_at: dict[str, datetime] = field(default_factory=dict)  # workload -> when its guest was last stopped

    def tick(self, now: datetime) -> None:
        agents.heartbeat(self.uow_factory(), self.site_id, Heartbeat(hosts=self.hosts))
        desired = [Desired(w.workload_id, w.name, w.host_name, w.desired.value, w.vcpus, w.memory_mib, w.disk_gib,
                           w.offering, w.stop_at, w.reboot_after)
                   for w in agents.desired_state(self.uow_factory(), self.site_id).workloads]
        names = [h.name for h in self.hosts]
        for action in reconcile(desired, self._actual(), names, now):
            key = (action.workload_id, action.host)
            if isinstance(action, Define):
                self.domains[key] = "stopped"
            elif isinstance(action, Start):
                self.domains[key] = "running"
            elif isinstance(action, Stop):
                self.domains[key] = "stopped"
                self.stopped_at[action.workload_id] = now
            elif isinstance(action, Undefine):
                self.domains.pop(key, None)
        seen = observe(desired, self._actual(), {}, names)
        hosts = {d.workload_id: d.host for d in desired}
        if seen:
            agents.report(self.uow_factory(), self.site_id, Report(workloads=[
                ObservedWorkload(workload_id=i, observed=o, message=m, host_name=hosts[i])  # type: ignore[arg-type]
                for i, o, m in seen]))

    def running(self) -> set[str]:
        return {w for (w, _h), power in self.domains.items() if power == "running"}

    def _actual(self) -> list[Actual]:
        return [Actual(w, h, power) for (w, h), power in self.domains.items()]  # type: ignore[arg-type]


@dataclass
class Simulation:
    clock: FrozenClock
    loop: PlacementLoop
    sites: list[SimulatedSite]
    step: timedelta = timedelta(minutes=5)
    on_tick: list[Callable[[datetime], None]] = field(default_factory=list)

    def run_until(self, until: datetime) -> None:
        """Tick by ``step`` up to ``until`` included: at each instant the agents report, then the loop runs."""
        while self.clock() <= until:
            now = self.clock()
            for site in self.sites:
                site.tick(now)
            self.loop.run_once()
            for hook in self.on_tick:
                hook(now)
            self.clock.advance(self.step)
