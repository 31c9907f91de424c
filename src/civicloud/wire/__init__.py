"""Request and response models of the API, shared by api, client, cli and agent."""

from civicloud.wire.agent import (
    DesiredState,
    DesiredWorkload,
    Heartbeat,
    HeartbeatResponse,
    HostReport,
    JoinRequest,
    JoinResponse,
    ObservedWorkload,
    RegisteredHost,
    Report,
    ReportResponse,
)
from civicloud.wire.common import ErrorBody, ErrorDetail, ResourcesOut
from civicloud.wire.resources import (
    AgreementCreate,
    AgreementOut,
    CertificationIn,
    HostOut,
    HostReserveSet,
    JoinTokenOut,
    MemberCreate,
    MemberOut,
    OfferingCreate,
    OfferingOut,
    OfferOut,
    WindowIn,
    OfferSet,
    PlacementGroupCreate,
    PlacementGroupOut,
    PlacementOut,
    QuotaIn,
    ResidencyIn,
    SiteCreate,
    SiteOut,
    WorkloadCreate,
    WorkloadOut,
)

__all__ = [
    "AgreementCreate", "AgreementOut", "CertificationIn", "DesiredState", "DesiredWorkload", "ErrorBody",
    "ErrorDetail", "Heartbeat", "HeartbeatResponse", "HostOut", "HostReport", "HostReserveSet", "JoinRequest", "JoinResponse",
    "JoinTokenOut", "MemberCreate", "MemberOut", "ObservedWorkload", "OfferOut", "OfferSet", "OfferingCreate",
    "OfferingOut", "PlacementGroupCreate", "PlacementGroupOut", "PlacementOut", "QuotaIn", "RegisteredHost",
    "ResidencyIn", "Report", "ReportResponse", "ResourcesOut", "SiteCreate", "SiteOut",
    "WindowIn", "WorkloadCreate", "WorkloadOut",
]
