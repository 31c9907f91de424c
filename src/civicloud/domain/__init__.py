"""The domain: plain Python entities and rules, no I/O.

Nothing here imports a database, web, HTTP or hypervisor library; an
import-linter contract checks it in ``make test``.
"""

from civicloud.domain.capacity import Host, Ratios, Resources
from civicloud.domain.catalogue import (
    TRAITS,
    GroupPolicy,
    Offering,
    PlacementGroup,
    Residency,
    ServiceClass,
)
from civicloud.domain.geography import department_of, is_public_holiday, region_of
from civicloud.domain.members import (
    Agreement,
    AgreementKind,
    Member,
    MemberCategory,
    Quota,
    check_agreement_dates,
    validate_siren,
    validate_siret,
)
from civicloud.domain.offers import Offer, Window, check_offer
from civicloud.domain.sites import (
    Certification,
    CertificationKind,
    Site,
    check_attestation,
    check_certification,
    validate_insee_code,
    validate_timezone,
)
from civicloud.domain.usage import UsageSample
from civicloud.domain.workloads import (
    PLACED_STATES,
    Allocation,
    DesiredPower,
    PlacementExplanation,
    Workload,
    WorkloadState,
    can_transition,
    check_transition,
    state_after_report,
)

__all__ = [
    "PLACED_STATES", "TRAITS", "Agreement", "AgreementKind", "Allocation", "Certification", "CertificationKind",
    "DesiredPower", "GroupPolicy", "Host", "Member", "MemberCategory", "Offer", "Offering", "PlacementExplanation",
    "PlacementGroup", "Quota", "Ratios", "Residency", "Resources", "ServiceClass", "Site", "UsageSample", "Window",
    "Workload", "WorkloadState", "can_transition", "check_agreement_dates", "check_attestation",
    "check_certification", "check_offer",
    "check_transition", "department_of", "is_public_holiday", "region_of", "state_after_report",
    "validate_insee_code", "validate_siren", "validate_siret", "validate_timezone",
]
