"""The agent channel: join, authenticate, heartbeat, desired state, reports."""

from __future__ import annotations

import logging
import secrets

from civicloud.domain import Resources, can_transition, state_after_report
from civicloud.errors import Unauthorized
from civicloud.services._common import new_id, utcnow
from civicloud.services.allocations import release_allocation
from civicloud.services.sites import hash_secret
from civicloud.store import UnitOfWork
from civicloud.wire import DesiredWorkload, Heartbeat, JoinRequest, Report

log = logging.getLogger(__name__)
CREDENTIAL_PREFIX = "cvs_"


def join(uow: UnitOfWork, req: JoinRequest) -> tuple[str, str]:
    """Trade a one-time join token for a lasting site credential: (site_id, credential)."""
    now = utcnow()
    with uow:
        site_id = uow.credentials.consume_join_token(hash_secret(req.join_token), now)
        if site_id is None:
            raise Unauthorized("this join token is unknown, expired or already used; issue a new one with "
                               "'civicloud site join-token SITE'", code="civicloud.agent.invalid_join_token")
        credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
        uow.credentials.add_site_credential(new_id(), site_id, hash_secret(credential), req.agent_name, now)
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
    now = utcnow()
    out = []
    with uow:
        for report in hb.hosts:
            total = Resources(report.vcpus, report.memory_mib, report.disk_gib, report.gpus)
            owner = Resources(report.owner_vcpus_used, report.owner_memory_mib_used)
            host_id = uow.hosts.report(site_id, report.name, report.libvirt_uri, total, owner, now, new_id())
            out.append((host_id, report.name))
        uow.commit()
    return out


def desired_state(uow: UnitOfWork, site_id: str) -> list[DesiredWorkload]:
    with uow:
        offerings = {o.id: o for o in uow.offerings.list()}
        out = []
        for w, host_name in uow.workloads.on_site(site_id):
            offering = offerings[w.offering_id]
            res = offering.resources
            out.append(DesiredWorkload(workload_id=w.id, name=w.name, offering=offering.name, host_name=host_name,
                                       desired=w.desired, vcpus=res.vcpus, memory_mib=res.memory_mib,
                                       disk_gib=res.disk_gib))
        return out


def report(uow: UnitOfWork, site_id: str, rep: Report) -> tuple[int, int]:
    """Apply what an agent saw on its hypervisors: (accepted, ignored)."""
    accepted = ignored = 0
    with uow:
        site_hosts = {h.id for h in uow.hosts.list(site_id)}
        for obs in rep.workloads:
            w = uow.workloads.get(obs.workload_id)
            if w is None or w.host_id not in site_hosts:
                ignored += 1  # not this site's: never let one site touch another's workloads
                continue
            target = state_after_report(w.state, w.desired, obs.observed)
            if target is None or target is w.state or not can_transition(w.state, target):
                accepted += 1
                continue
            now = utcnow()
            message = obs.message or f"{obs.observed} on its host"
            if uow.workloads.update(w.id, w.state, now=now, state=target, message=message):
                if target.value == "deleted":
                    release_allocation(uow, w.id, now)
                accepted += 1
            else:
                ignored += 1
        uow.commit()
    return accepted, ignored
