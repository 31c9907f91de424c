"""Repositories: read and write domain objects through the unit of work's connection."""

from civicloud.store.repositories._base import RevisionRepository
from civicloud.store.repositories.audit import (
    AuditRepository,
    IdempotencyRepository,
    StoredAnswer,
)
from civicloud.store.repositories.billing import (
    BillingRepository,
    GroupedUsage,
    PriceBookRepository,
    UsageRecordRepository,
)
from civicloud.store.repositories.catalogue import (
    OfferingRepository,
    PlacementGroupRepository,
)
from civicloud.store.repositories.claims import Claim, ClaimRepository
from civicloud.store.repositories.credentials import CredentialRepository
from civicloud.store.repositories.hosts import HostRepository
from civicloud.store.repositories.identity import TokenRepository, UserRepository
from civicloud.store.repositories.members import AgreementRepository, MemberRepository
from civicloud.store.repositories.networks import NetworkRepository, PortRepository, SecurityGroupRepository
from civicloud.store.repositories.rate_limits import RateLimitRepository
from civicloud.store.repositories.sites import OfferRepository, SiteRepository
from civicloud.store.repositories.usage import UsageSampleRepository
from civicloud.store.repositories.workloads import (
    AllocationRepository,
    WorkloadRepository,
)

__all__ = [
    "AuditRepository", "IdempotencyRepository", "StoredAnswer", "TokenRepository", "UserRepository",
    "BillingRepository", "GroupedUsage", "PriceBookRepository", "UsageRecordRepository",
    "AgreementRepository", "AllocationRepository", "Claim", "ClaimRepository", "CredentialRepository", "HostRepository",
    "MemberRepository", "NetworkRepository", "PortRepository", "RateLimitRepository",
    "SecurityGroupRepository", "RevisionRepository",
    "OfferRepository", "OfferingRepository", "PlacementGroupRepository", "SiteRepository",
    "UsageSampleRepository", "WorkloadRepository",
]
