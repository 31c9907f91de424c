"""Domain objects to response models."""

from __future__ import annotations

from civicloud.domain import Agreement, Host, Member, Offering, Resources, Workload
from civicloud.services.sites import SiteView
from civicloud.wire import AgreementOut, HostOut, MemberOut, OfferingOut, ResourcesOut, SiteOut, WorkloadOut
from civicloud.wire.resources import CertificationOut, RatiosOut


def member_out(m: Member) -> MemberOut:
    return MemberOut(id=m.id, name=m.name, siren=m.siren, siret=m.siret, category=m.category,
                     created_at=m.created_at)


def agreement_out(a: Agreement) -> AgreementOut:
    return AgreementOut(id=a.id, member_id=a.member_id, kind=a.kind, valid_from=a.valid_from, valid_to=a.valid_to)


def site_out(v: SiteView) -> SiteOut:
    s = v.site
    certs = [CertificationOut(kind=c.kind, expires_on=c.expires_on, activities=sorted(c.activities))
             for c in s.certifications]
    return SiteOut(id=s.id, member_id=s.member_id, name=s.name, insee_code=s.insee_code, timezone=s.timezone,
                   certifications=certs, offer_share_percent=v.offer_share_percent, created_at=s.created_at)


def resources_out(r: Resources) -> ResourcesOut:
    return ResourcesOut(vcpus=r.vcpus, memory_mib=r.memory_mib, disk_gib=r.disk_gib)


def host_out(h: Host) -> HostOut:
    return HostOut(id=h.id, site_id=h.site_id, name=h.name, libvirt_uri=h.libvirt_uri,
                   total=resources_out(h.total), reserved=resources_out(h.reserved),
                   ratios=RatiosOut(cpu=h.ratios.cpu, ram=h.ratios.ram, disk=h.ratios.disk),
                   lend_share_percent=h.lend_share_percent, allocated=resources_out(h.allocated),
                   free=resources_out(h.free()), generation=h.generation, last_seen_at=h.last_seen_at)


def offering_out(o: Offering) -> OfferingOut:
    r = o.resources
    return OfferingOut(id=o.id, name=o.name, description=o.description, vcpus=r.vcpus, memory_mib=r.memory_mib,
                       disk_gib=r.disk_gib, service_class=o.service_class)


def workload_out(w: Workload) -> WorkloadOut:
    return WorkloadOut(id=w.id, member_id=w.member_id, offering_id=w.offering_id, name=w.name, state=w.state,
                       desired=w.desired, host_id=w.host_id, message=w.message, created_at=w.created_at,
                       updated_at=w.updated_at)
