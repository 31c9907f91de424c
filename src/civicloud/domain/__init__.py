"""The domain: plain Python entities and rules, no I/O.

Nothing here imports a database, web, HTTP or hypervisor library; an
import-linter contract checks it in ``make test``.
"""

from civicloud.domain.capacity import Host, Ratios, Resources, check_share
from civicloud.domain.catalogue import Offering, ServiceClass
from civicloud.domain.members import (
    Agreement,
    AgreementKind,
    Member,
    MemberCategory,
    check_agreement_dates,
    validate_siren,
    validate_siret,
)
from civicloud.domain.sites import (
    Certification,
    CertificationKind,
    Site,
    check_certification,
    validate_insee_code,
    validate_timezone,
)
from civicloud.domain.workloads import (
    PLACED_STATES,
    Allocation,
    DesiredPower,
    Workload,
    WorkloadState,
    can_transition,
    check_transition,
    state_after_report,
)

__all__ = [
    "PLACED_STATES", "Agreement", "AgreementKind", "Allocation", "Certification", "CertificationKind",
    "DesiredPower", "Host", "Member", "MemberCategory", "Offering", "Ratios", "Resources",
    "ServiceClass", "Site", "Workload", "WorkloadState", "can_transition", "check_agreement_dates",
    "check_certification", "check_share", "check_transition", "state_after_report",
    "validate_insee_code", "validate_siren", "validate_siret", "validate_timezone",
]
