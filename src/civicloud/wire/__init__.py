"""Request and response models of the API, shared by api, client, cli and agent."""

from civicloud.wire.agent import (
    DataPlaneIn,
    DesiredNic,
    DesiredState,
    DesiredWorkload,
    Heartbeat,
    HeartbeatResponse,
    HostNetworksOut,
    HostReport,
    JoinRequest,
    JoinResponse,
    NetworkHere,
    ObservedWorkload,
    PortHere,
    RegisteredHost,
    RejectedSample,
    RemoteMac,
    Report,
    ReportResponse,
    SecurityGroupHere,
    SecurityRuleHere,
    UsageAck,
    UsageBatch,
    UsageSampleIn,
)
from civicloud.wire.audit import (
    AuditEntryOut,
    AuditVerifyOut,
)
from civicloud.wire.billing import (
    BillingLineOut,
    BillingRunCreate,
    BillingRunOut,
    ClassUsageOut,
    CostModelIn,
    CostModelOut,
    CreditNoteCreate,
    DocumentOut,
    MemberBalanceOut,
    MemberUsageOut,
    PriceBookCreate,
    PriceBookOut,
    SettlementOut,
    ShowbackOut,
    TransferOut,
    UsageLineOut,
)
from civicloud.wire.catalogue import (
    OfferingCreate,
    OfferingOut,
    PlacementGroupCreate,
    PlacementGroupOut,
)
from civicloud.wire.common import ErrorBody, ErrorDetail, ResourcesOut
from civicloud.wire.hosts import (
    DataPlaneOut,
    HostOut,
    HostPowerSet,
    HostReserveSet,
)
from civicloud.wire.identity import (
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    WhoAmI,
)
from civicloud.wire.members import (
    AgreementCreate,
    AgreementOut,
    MemberCreate,
    MemberOut,
    QuotaIn,
)
from civicloud.wire.networks import (
    NetworkCreate,
    NetworkHostOut,
    NetworkOut,
    NicIn,
    NicOut,
    PortOut,
    RuleIn,
    RuleOut,
    SecurityGroupCreate,
    SecurityGroupOut,
    SubnetIn,
    SubnetOut,
)
from civicloud.wire.sites import (
    CertificationAttest,
    CertificationIn,
    CertificationOut,
    JoinTokenOut,
    OfferOut,
    OfferSet,
    SiteCreate,
    SiteOut,
    WindowIn,
)
from civicloud.wire.workloads import (
    PlacementOut,
    ResidencyIn,
    UsageSampleOut,
    WorkloadCreate,
    WorkloadOut,
    WorkloadResize,
)

__all__ = [
    "DataPlaneIn", "DesiredNic", "HostNetworksOut", "NetworkHere", "PortHere", "RemoteMac", "SecurityGroupHere",
    "SecurityRuleHere",
    "DataPlaneOut", "NetworkCreate", "NetworkHostOut", "NetworkOut", "NicIn", "NicOut", "PortOut", "RuleIn",
    "RuleOut", "SecurityGroupCreate",
    "SecurityGroupOut", "SubnetIn", "SubnetOut",
    "BillingLineOut", "BillingRunCreate", "BillingRunOut", "CostModelIn", "CostModelOut", "CreditNoteCreate",
    "ClassUsageOut", "DocumentOut", "MemberBalanceOut", "MemberUsageOut", "PriceBookCreate", "PriceBookOut",
    "SettlementOut", "ShowbackOut",
    "TransferOut", "UsageLineOut",
    "AgreementCreate", "AgreementOut", "CertificationAttest", "CertificationIn", "CertificationOut",
    "DesiredState", "DesiredWorkload", "ErrorBody",
    "ErrorDetail", "Heartbeat", "HeartbeatResponse", "HostOut", "HostReport", "HostReserveSet", "JoinRequest",
    "JoinResponse",
    "JoinTokenOut", "MemberCreate", "MemberOut", "ObservedWorkload", "OfferOut", "OfferSet", "OfferingCreate",
    "OfferingOut", "PlacementGroupCreate", "PlacementGroupOut", "PlacementOut", "QuotaIn", "RegisteredHost",
    "ResidencyIn", "Report", "ReportResponse", "ResourcesOut", "SiteCreate", "SiteOut",
    "WindowIn", "WorkloadCreate", "WorkloadOut", "RejectedSample", "UsageAck", "UsageBatch", "UsageSampleIn",
    "UsageSampleOut", "WorkloadResize", "HostPowerSet", "AuditEntryOut", "AuditVerifyOut", "TokenCreate",
    "TokenCreated", "TokenOut", "UserCreate", "UserOut", "WhoAmI",
]
