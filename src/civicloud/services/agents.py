"""The agent channel: join, authenticate, heartbeat, desired state, reports."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from civicloud.domain import (
    Resources,
    UsageSample,
    WorkloadState,
    can_transition,
    events,
    state_after_report,
)
from civicloud.domain.capacity import DataPlaneState
from civicloud.domain.networks import Network, Port
from civicloud.domain.secrets import SecretKind, new_secret
from civicloud.domain.usage import (
    BEFORE_ALLOCATION,
    NOT_HELD,
    UNKNOWN_HOST,
    AllocationFacts,
    Refusal,
    allocation_at,
    check_series,
)
from civicloud.errors import Unauthorized
from civicloud.services.allocations import release_allocation
from civicloud.services.networks import host_networks, release_ports
from civicloud.services.sites import hash_secret
from civicloud.store import UnitOfWork
from civicloud.wire import (
    DesiredNic,
    DesiredState,
    DesiredWorkload,
    Heartbeat,
    JoinRequest,
    RejectedSample,
    Report,
    UsageAck,
    UsageBatch,
)

log = logging.getLogger(__name__)
CREDENTIAL_PREFIX = SecretKind.SITE_CREDENTIAL.value


def join(uow: UnitOfWork, req: JoinRequest) -> tuple[str, str]:
    """Trade a one-time join token for a lasting site credential: (site_id, credential)."""
    now = uow.clock()
    with uow:
        site_id = uow.credentials.consume_join_token(hash_secret(req.join_token), now)
        if site_id is None:
            raise Unauthorized("this join token is unknown, expired or already used; issue a new one with "
                               "'civicloud site join-token SITE'", code="civicloud.agent.invalid_join_token")
        credential = new_secret(SecretKind.SITE_CREDENTIAL)
        uow.credentials.add_site_credential(uow.new_id(), site_id, hash_secret(credential), req.agent_name, now)
        uow.commit()
    return site_id, credential


def authenticate(uow: UnitOfWork, credential: str) -> str:
    """The site a credential belongs to."""
    with uow:
        site_id = uow.credentials.site_for_credential(hash_secret(credential))
    if site_id is None:
        raise Unauthorized("unknown or revoked site credential; join again with a new join token",
                           code="civicloud.agent.invalid_credential")
    return site_id


def heartbeat(uow: UnitOfWork, site_id: str, hb: Heartbeat) -> list[tuple[str, str]]:
    """Record the hosts an agent reports: [(host_id, name)]."""
    now = uow.clock()
    out = []
    with uow:
        for report in hb.hosts:
            total = Resources(report.vcpus, report.memory_mib, report.disk_gib, report.gpus)
            owner = Resources(report.owner_vcpus_used, report.owner_memory_mib_used)
            plane = report.data_plane
            state = None if plane is None else DataPlaneState(plane.networks, plane.ports, plane.digest,
                                                              tuple(plane.errors))
            host_id = uow.hosts.report(site_id, report.name, report.libvirt_uri, total, owner, now, uow.new_id(),
                                       report.cpu_busy_percent, report.tunnel_ip, state)
            out.append((host_id, report.name))
        uow.signal(events.ROOM_CHANGED)  # a host that (re)appears, or whose owner's load fell, may take a workload
        uow.commit()
    return out


def desired_state(uow: UnitOfWork, site_id: str) -> DesiredState:
    """What the site's agent must hold: its workloads (with their NICs), and per host the tenant networks."""
    with uow:
        offerings = {o.id: o for o in uow.offerings.list()}
        placed = uow.workloads.on_site(site_id)
        ports = uow.ports.of_workloads([w.id for w, _h in placed])
        on_networks = uow.ports.placed_on_networks_of_site(site_id)
        vni_of = {p.port_id: p.vni for p in on_networks}
        nets = {n.id: n for n in uow.networks.get_many(p.network_id for ps in ports.values() for p in ps)}
        out = []
        for w, host_name in placed:
            offering = offerings[w.offering_id]
            res = offering.resources
            nics = [_desired_nic(p, vni_of[p.id], nets.get(p.network_id)) for p in ports[w.id] if p.id in vni_of]
            out.append(DesiredWorkload(workload_id=w.id, name=w.name, offering=offering.name, host_name=host_name,
                                       desired=w.desired, vcpus=res.vcpus, memory_mib=res.memory_mib,
                                       disk_gib=res.disk_gib, stop_at=w.evict_deadline,
                                       reboot_after=w.reboot_requested_at, nics=nics))
        groups = uow.security_groups.get_many(g for p in on_networks if p.site_id == site_id
                                              for g in p.security_groups)
        networks = host_networks(on_networks, site_id, {g.id: g for g in groups})
    return DesiredState(workloads=out, networks=networks)


def _desired_nic(port: Port, vni: int, network: Network | None) -> DesiredNic:
    """A NIC as its host needs it: the data plane's part, and what the guest's seed tells it of its subnet."""
    subnet = network.subnet_of(port.ip) if network is not None else None
    return DesiredNic(port_id=port.id, mac=port.mac, ip=str(port.ip), vni=vni,
                      cidr=str(subnet.cidr) if subnet else "", gateway=str(subnet.gateway) if subnet else "",
                      dns=[str(d) for d in subnet.dns] if subnet else [])


def report(uow: UnitOfWork, site_id: str, rep: Report) -> tuple[int, int]:
    """Apply what an agent saw on its hypervisors: (accepted, ignored)."""
    accepted = ignored = 0
    with uow:
        site_hosts = {h.id: h.name for h in uow.hosts.list(site_id)}
        for obs in rep.workloads:
            w = uow.workloads.get(obs.workload_id)
            if w is None or w.host_id not in site_hosts:
                ignored += 1  # not this site's: never let one site touch another's workloads
                continue
            if obs.host_name is not None and obs.host_name != site_hosts[w.host_id]:
                ignored += 1  # seen on a host it has left since (a re-placement): old news
                continue
            target = state_after_report(w.state, w.desired, obs.observed)
            if target is None or target is w.state or not can_transition(w.state, target):
                accepted += 1
                continue
            now = uow.clock()
            message = obs.message or f"{obs.observed} on its host"
            values: dict[str, object] = {"state": target, "message": message}
            if w.state is WorkloadState.EVICTING and target is WorkloadState.PENDING:
                # Stopped at the end of its notice: it gives the host back and queues for room elsewhere.
                values.update(host_id=None, evict_deadline=None,
                              message=f"stopped on {site_hosts[w.host_id]} when its owner took the host back; "
                                      "waiting for room on another host")
            if uow.workloads.update(w.id, w.state, now=now, **values):
                if target in (WorkloadState.DELETED, WorkloadState.PENDING):
                    release_allocation(uow, w.id, now)
                    if target is WorkloadState.DELETED:
                        release_ports(uow, w.id, now)
                    why = "removed" if target is WorkloadState.DELETED else "stopped_at_deadline"
                    uow.emit(events.released(w.id, w.member_id, w.host_id, why, site_id))
                    uow.signal(events.ROOM_CHANGED)  # the room it held, and the workload queued again
                accepted += 1
            else:
                ignored += 1
        uow.commit()
    return accepted, ignored


def ingest_usage(uow: UnitOfWork, site_id: str, batch: UsageBatch, now: datetime | None = None) -> UsageAck:
    """Store an agent's samples, each once. Every sample is acknowledged, so the agent can forget it: stored
    now, already stored (a retry), or refused for good with the rule it breaks (``domain.usage``: one of
    this site's hosts and guests, within what the allocation holds, counters no faster than the hardware).
    A workload's samples on one host are checked in ``sampled_at`` order, each against the latest believed
    before it (the latest stored, then each one accepted from this batch)."""
    now = now or uow.clock()
    refused: dict[str, Refusal] = {}
    with uow:
        hosts = {h.name: h.id for h in uow.hosts.list(site_id)}
        seen: set[str] = set()
        fresh = []
        known = uow.usage.known([s.id for s in batch.samples])
        for s in batch.samples:
            if s.id in known or s.id in seen:
                continue
            seen.add(s.id)
            fresh.append(s)
        pairs = {(s.workload_id, hosts[s.host_name]) for s in fresh if s.host_name in hosts}
        held = uow.allocations.held_on(pairs)
        members = uow.workloads.members_of({w for w, _h in held})
        series: dict[tuple[str, str], list[tuple[AllocationFacts, UsageSample]]] = defaultdict(list)
        for s in fresh:
            host_id = hosts.get(s.host_name)
            if host_id is None:
                refused[s.id] = Refusal(UNKNOWN_HOST, f"no host named {s.host_name!r} on this site", "host_name")
                continue
            allocations = held.get((s.workload_id, host_id))
            if not allocations:
                refused[s.id] = Refusal(NOT_HELD, f"workload {s.workload_id} never ran on {s.host_name}",
                                        "workload_id")
                continue
            allocation = allocation_at(allocations, s.sampled_at)
            if allocation is None:
                refused[s.id] = Refusal(BEFORE_ALLOCATION, f"dated before workload {s.workload_id} was first "
                                                           f"placed on {s.host_name}", "sampled_at")
                continue
            series[(s.workload_id, host_id)].append((allocation, UsageSample(
                s.id, s.workload_id, members[s.workload_id], site_id, host_id, s.sampled_at, now, s.vcpus,
                s.cpu_time_ns, s.memory_mib, s.memory_used_mib, s.disk_read_bytes, s.disk_write_bytes,
                s.net_rx_bytes, s.net_tx_bytes)))
        latest = uow.usage.latest(set(series))
        rows = []
        for pair, candidates in series.items():
            for sample, refusal in check_series(latest.get(pair), candidates, now):
                if refusal is None:
                    rows.append(sample)
                else:
                    refused[sample.id] = refusal
        uow.usage.add_many(rows)
        uow.commit()
    if refused:
        log.warning("site %s: %d of %d samples refused (%s)", site_id, len(refused), len(batch.samples),
                    ", ".join(sorted({r.code for r in refused.values()})))
    rejected = [RejectedSample(id=s.id, reason=refused[s.id].message, code=refused[s.id].code,
                               field=refused[s.id].field) for s in fresh if s.id in refused]
    return UsageAck(accepted=len(rows), duplicates=len(batch.samples) - len(rows) - len(rejected),
                    rejected=rejected)
