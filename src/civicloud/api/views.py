"""Domain objects to response models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Literal

from civicloud.domain import (
    Agreement,
    Host,
    Member,
    Offer,
    Offering,
    PlacementGroup,
    Resources,
    Site,
    UsageSample,
    Window,
    Workload,
    department_of,
    region_of,
)
from civicloud.domain.identity import Principal
from civicloud.domain.networks import Port, SecurityGroup
from civicloud.domain.offers import DAY_NAMES
from civicloud.services.networks import NetworkHost, NetworkView
from civicloud.services.sites import OfferView
from civicloud.services.workloads import Whereabouts
from civicloud.wire import (
    AgreementOut,
    DataPlaneOut,
    HostOut,
    MemberOut,
    NetworkHostOut,
    NetworkOut,
    NicOut,
    OfferingOut,
    OfferOut,
    OfferSet,
    PlacementGroupOut,
    PlacementOut,
    PortOut,
    QuotaIn,
    ResidencyIn,
    ResourcesOut,
    RuleOut,
    SecurityGroupOut,
    SiteOut,
    SubnetOut,
    UsageSampleOut,
    WindowIn,
    WorkloadOut,
)
from civicloud.wire.hosts import RatiosOut
from civicloud.wire.sites import CertificationOut
from civicloud.wire.workloads import PlacementReason


def member_out(m: Member) -> MemberOut:
    return MemberOut(id=m.id, name=m.name, siren=m.siren, siret=m.siret, category=m.category,
                     created_at=m.created_at)


def agreement_out(a: Agreement) -> AgreementOut:
    quotas = {cls: QuotaIn(**vars(q)) for cls, q in a.quotas.items()}
    return AgreementOut(id=a.id, member_id=a.member_id, kind=a.kind, valid_from=a.valid_from, valid_to=a.valid_to,
                        quotas=quotas)


def site_out(s: Site) -> SiteOut:
    certs = [CertificationOut(kind=c.kind, expires_on=c.expires_on, activities=sorted(c.activities),
                              attested=c.attested, valid_from=c.valid_from, attested_at=c.attested_at,
                              attested_by=c.attested_by, certificate_number=c.certificate_number, issuer=c.issuer)
             for c in s.certifications]
    return SiteOut(id=s.id, member_id=s.member_id, name=s.name, insee_code=s.insee_code,
                   department=department_of(s.insee_code), region=region_of(s.insee_code), timezone=s.timezone,
                   certifications=certs, latitude=s.latitude, longitude=s.longitude,
                   carbon_g_per_kwh=s.carbon_g_per_kwh, country=s.country, created_at=s.created_at)


def offer_out(v: OfferView) -> OfferOut:
    o = v.offer
    windows = [WindowIn(days=[DAY_NAMES[d] for d in sorted(w.days)], start=w.start.strftime("%H:%M"),
                        end=w.end.strftime("%H:%M"), share_percent=w.share_percent) for w in o.windows]
    return OfferOut(site_id=v.site.id, host_id=v.host_id, committed_percent=o.committed_percent,
                    default_percent=o.default_percent, windows=windows,
                    borrower_categories=sorted(o.borrower_categories, key=lambda c: c.value),
                    reclaim_notice_s=o.reclaim_notice_s, updated_at=v.updated_at,
                    lent_now_percent=v.lent_now_percent, next_change_at=v.next_change_at,
                    timeline=o.weekly_timeline())


def resources_out(r: Resources) -> ResourcesOut:
    return ResourcesOut(vcpus=r.vcpus, memory_mib=r.memory_mib, disk_gib=r.disk_gib, gpus=r.gpus)


def host_out(h: Host) -> HostOut:
    return HostOut(id=h.id, site_id=h.site_id, name=h.name, libvirt_uri=h.libvirt_uri,
                   total=resources_out(h.total), reserved=resources_out(h.reserved),
                   ratios=RatiosOut(cpu=h.ratios.cpu, ram=h.ratios.ram, disk=h.ratios.disk),
                   lend_share_percent=h.lend_share_percent, allocated=resources_out(h.allocated),
                   allocated_guaranteed=resources_out(h.allocated_guaranteed),
                   owner_used=resources_out(h.owner_used), free=resources_out(h.free()),
                   cpu_busy_percent=h.cpu_busy_percent, idle_watts=h.idle_watts, max_watts=h.max_watts,
                   generation=h.generation, last_seen_at=h.last_seen_at, tunnel_ip=h.tunnel_ip,
                   data_plane=None if h.data_plane is None else DataPlaneOut(
                       networks=h.data_plane.networks, ports=h.data_plane.ports, digest=h.data_plane.digest,
                       errors=list(h.data_plane.errors)))


def offering_out(o: Offering) -> OfferingOut:
    r = o.resources
    return OfferingOut(id=o.id, name=o.name, description=o.description, vcpus=r.vcpus, memory_mib=r.memory_mib,
                       disk_gib=r.disk_gib, gpus=r.gpus, service_class=o.service_class,
                       hds_activities=sorted(o.hds_activities), traits=sorted(o.traits))


def group_out(g: PlacementGroup) -> PlacementGroupOut:
    return PlacementGroupOut(id=g.id, member_id=g.member_id, name=g.name, policy=g.policy, created_at=g.created_at)


def workload_out(w: Workload, where: Whereabouts | None = None, viewer: Principal | None = None,
                 ports: Sequence[Port] = ()) -> WorkloadOut:
    """The workload as ``viewer`` may see it: its host only when the viewer is the federation's staff (no
    member) or the host's lender; anyone who may see the workload sees the lending member and site."""
    sees_host = viewer is None or viewer.member_id is None or (where is not None and
                                                                where.lender_id == viewer.member_id)
    placement = None
    if w.placement is not None:
        placement = PlacementOut(summary=w.placement.summary, decided_at=w.placement.decided_at,
                                 reasons=[PlacementReason(filter=f, code=c, text=t, hosts=n)
                                          for f, c, t, n in w.placement.reasons])
    res = w.residency
    return WorkloadOut(id=w.id, member_id=w.member_id, offering_id=w.offering_id, name=w.name, state=w.state,
                       desired=w.desired, host_id=w.host_id if sees_host else None,
                       site_id=where.site_id if where else None, site_name=where.site_name if where else None,
                       lender_id=where.lender_id if where else None,
                       lender_name=where.lender_name if where else None, message=w.message,
                       service_class=w.service_class,
                       group_id=w.group_id, residency=ResidencyIn(countries=list(res.countries),
                                                                  regions=list(res.regions),
                                                                  departments=list(res.departments)),
                       placement=placement, evict_deadline=w.evict_deadline,
                       reboot_requested_at=w.reboot_requested_at, created_at=w.created_at,
                       updated_at=w.updated_at, nics=[NicOut(port_id=p.id, network_id=p.network_id, mac=p.mac,
                                                             ip=str(p.ip)) for p in ports])


def network_out(v: NetworkView, viewer: Principal | None = None) -> NetworkOut:
    """The network; its hosts as ``viewer`` may see them (as a workload's: the host itself, its tunnel address
    and its agent's errors for the federation's staff and the host's lender only)."""
    n = v.network
    return NetworkOut(id=n.id, member_id=n.member_id, name=n.name, vni=n.vni, internet_egress=n.internet_egress,
                      ports=v.ports, created_at=n.created_at,
                      subnets=[SubnetOut(cidr=str(s.cidr), gateway=str(s.gateway), dns=[str(d) for d in s.dns],
                                         capacity=s.capacity) for s in n.subnets],
                      hosts=[_network_host_out(h, viewer) for h in v.hosts])


def _network_host_out(h: NetworkHost, viewer: Principal | None) -> NetworkHostOut:
    plane = h.host.data_plane
    state: Literal["applied", "errors", "unknown"] = "unknown" if plane is None else \
        "errors" if plane.errors else "applied"
    out = NetworkHostOut(site_id=h.host.site_id, site_name=h.site_name, lender_id=h.lender_id,
                         lender_name=h.lender_name, ports=h.ports, data_plane=state)
    if viewer is None or viewer.member_id is None or viewer.member_id == h.lender_id:
        out = out.model_copy(update={"host_id": h.host.id, "host_name": h.host.name, "tunnel_ip": h.host.tunnel_ip,
                                     "errors": list(plane.errors) if plane is not None else []})
    return out


def port_out(p: Port) -> PortOut:
    return PortOut(id=p.id, network_id=p.network_id, member_id=p.member_id, workload_id=p.workload_id, mac=p.mac,
                   ip=str(p.ip), security_groups=list(p.security_groups), created_at=p.created_at)


def security_group_out(g: SecurityGroup) -> SecurityGroupOut:
    return SecurityGroupOut(id=g.id, member_id=g.member_id, name=g.name, description=g.description,
                            created_at=g.created_at, rules=[RuleOut(
                                id=r.id, direction=r.direction, protocol=r.protocol, port_min=r.port_min,
                                port_max=r.port_max, remote_cidr=str(r.remote_cidr) if r.remote_cidr else None,
                                remote_group_id=r.remote_group_id) for r in g.rules])


def sample_out(s: UsageSample) -> UsageSampleOut:
    return UsageSampleOut(id=s.id, workload_id=s.workload_id, host_id=s.host_id, site_id=s.site_id,
                          sampled_at=s.sampled_at, received_at=s.received_at, vcpus=s.vcpus,
                          cpu_time_ns=s.cpu_time_ns, memory_mib=s.memory_mib, memory_used_mib=s.memory_used_mib,
                          disk_read_bytes=s.disk_read_bytes, disk_write_bytes=s.disk_write_bytes,
                          net_rx_bytes=s.net_rx_bytes, net_tx_bytes=s.net_tx_bytes)


def offer_from(body: OfferSet) -> Offer:
    """An offer as the API takes it (days by name, local clock times) as the domain holds it."""
    windows = tuple(Window(frozenset(DAY_NAMES.index(d) for d in w.days), time.fromisoformat(w.start),
                           time.fromisoformat(w.end), w.share_percent) for w in body.windows)
    return Offer(body.committed_percent, body.default_percent, windows, frozenset(body.borrower_categories),
                 body.reclaim_notice_s)
