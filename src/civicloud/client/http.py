"""httpx clients that speak the wire models and raise CivicloudError subclasses.

An error answer becomes an ``ApiError`` (its HTTP ``status``, the server's ``code``, ``message`` and ``field``)
of the class its status's kind gives (``error_codes.kind_of_status``): ``ApiNotFound`` is an ``ApiError`` and a
``NotFound``, ``ApiConflict`` a ``Conflict``, and so on; so callers branch on kinds, the same way whether the
error came over HTTP or not, never on status numbers.

The transport is injectable (``transport=httpx.MockTransport(...)`` or an
``httpx.WSGITransport``) so a unit test can run without sockets where that is
honest; everything else talks to a real server.
"""

from __future__ import annotations

import ssl
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from civicloud.error_codes import kind_of_status
from civicloud.errors import (
    CivicloudError,
    Conflict,
    ErrorKind,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from civicloud.wire import (
    AgreementCreate,
    AgreementOut,
    BillingRunCreate,
    BillingRunOut,
    CertificationAttest,
    CertificationIn,
    CostModelIn,
    CostModelOut,
    CreditNoteCreate,
    DesiredState,
    DocumentOut,
    Heartbeat,
    HeartbeatResponse,
    HostOut,
    HostPowerSet,
    HostReserveSet,
    JoinRequest,
    JoinResponse,
    JoinTokenOut,
    MemberCreate,
    MemberOut,
    MemberUsageOut,
    NetworkCreate,
    NetworkOut,
    OfferingCreate,
    OfferingOut,
    OfferOut,
    OfferSet,
    PlacementGroupCreate,
    PlacementGroupOut,
    PortOut,
    PriceBookCreate,
    PriceBookOut,
    Report,
    ReportResponse,
    RuleIn,
    SecurityGroupCreate,
    SecurityGroupOut,
    SettlementOut,
    ShowbackOut,
    SiteCreate,
    SiteOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UsageAck,
    UsageBatch,
    UsageSampleOut,
    UserCreate,
    UserOut,
    WhoAmI,
    WorkloadCreate,
    WorkloadOut,
    WorkloadResize,
)

M = TypeVar("M")


class ApiError(CivicloudError):
    """An error answer of the API, with its stable code and the HTTP status. The client raises one of the
    subclasses below (``api_error`` picks it), each also the ``civicloud.errors`` class of its kind."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, code=code, field=field)
        self.status = status


class ApiInvalid(ApiError, InvalidInput):
    """400, 422, and every 4xx no other kind claims: the request is at fault."""


class ApiTooLarge(ApiInvalid):
    """413: the body is over what the API takes; send less at a time."""


class ApiUnsupportedMediaType(ApiInvalid):
    """415: the body is not of a type the route takes."""


class ApiUnauthorized(ApiError, Unauthorized):
    """401."""


class ApiForbidden(ApiError, Forbidden):
    """403."""


class ApiNotFound(ApiError, NotFound):
    """404."""


class ApiConflict(ApiError, Conflict):
    """409."""


class ApiRateLimited(ApiError, RateLimited):
    """429."""


class ApiUnavailable(ApiError, Unavailable):
    """503: the server or what it depends on is out of reach for now."""


class ApiInternal(ApiError):
    """500 and every other 5xx: the server failed."""

    kind = ErrorKind.INTERNAL


_BY_KIND: dict[ErrorKind, type[ApiError]] = {
    ErrorKind.INVALID: ApiInvalid, ErrorKind.UNAUTHORIZED: ApiUnauthorized, ErrorKind.FORBIDDEN: ApiForbidden,
    ErrorKind.NOT_FOUND: ApiNotFound, ErrorKind.CONFLICT: ApiConflict, ErrorKind.RATE_LIMITED: ApiRateLimited,
    ErrorKind.UNAVAILABLE: ApiUnavailable, ErrorKind.INTERNAL: ApiInternal,
}
_BY_STATUS: dict[int, type[ApiError]] = {413: ApiTooLarge, 415: ApiUnsupportedMediaType}


def api_error(status: int, code: str, message: str, field: str | None = None) -> ApiError:
    """The ApiError of an error answer: the class of its status (413, 415), else of its status's kind."""
    cls = _BY_STATUS.get(status) or _BY_KIND[kind_of_status(status)]
    return cls(status, code, message, field)


class _Base:
    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None, ca_file: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        # https: the system's certificate store, or ``ca_file`` (a private CA's certificate, PEM).
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._http = httpx.Client(base_url=f"{self.base_url}/api/v1", headers=headers, timeout=timeout, verify=verify,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, out: type[M] | Any, body: BaseModel | None = None,
              params: dict[str, Any] | None = None) -> M:
        try:
            resp = self._http.request(method, path, params={k: v for k, v in (params or {}).items() if v is not None},
                                      content=body.model_dump_json(exclude_unset=False) if body else None,
                                      headers={"Content-Type": "application/json"} if body else None)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the civicloud API at {self.base_url} ({type(exc).__name__}); "
                              "check --server / CIVICLOUD_SERVER_URL and that 'civicloud server' runs",
                              code="civicloud.client.unreachable") from exc
        if resp.status_code >= 400:
            raise _error(resp)
        return TypeAdapter(out).validate_python(resp.json())

    def _raw(self, method: str, path: str) -> bytes:
        """A non-JSON answer (an export): its bytes."""
        try:
            resp = self._http.request(method, path)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the civicloud API at {self.base_url} ({type(exc).__name__})",
                              code="civicloud.client.unreachable") from exc
        if resp.status_code >= 400:
            raise _error(resp)
        return resp.content


def _error(resp: httpx.Response) -> ApiError:
    try:
        err = resp.json()["error"]
        return api_error(resp.status_code, err["code"], err["message"], err.get("field"))
    except (ValueError, KeyError, TypeError):
        return api_error(resp.status_code, f"civicloud.http.{resp.status_code}",
                         f"the server answered {resp.status_code} without a civicloud error body")


class BillingClient(_Base):
    """Price books, billing runs, invoices and statements, settlement and usage."""

    def add_price_book(self, body: PriceBookCreate) -> PriceBookOut:
        return self._call("POST", "/price-books", PriceBookOut, body)

    def list_price_books(self) -> list[PriceBookOut]:
        return self._call("GET", "/price-books", list[PriceBookOut])

    def cost_model(self, body: CostModelIn) -> CostModelOut:
        return self._call("POST", "/pricing/cost-model", CostModelOut, body)

    def run_billing(self, period: str) -> BillingRunOut:
        return self._call("POST", "/billing/runs", BillingRunOut, BillingRunCreate(period=period))

    def list_runs(self) -> list[BillingRunOut]:
        return self._call("GET", "/billing/runs", list[BillingRunOut])

    def period_csv(self, period: str) -> str:
        return self._raw("GET", f"/billing/runs/{_seg(period)}.csv").decode()

    def settlement(self, period: str) -> SettlementOut:
        return self._call("GET", f"/billing/runs/{_seg(period)}/settlement", SettlementOut)

    def invoices(self, member: str) -> list[DocumentOut]:
        return self._call("GET", f"/members/{_seg(member)}/invoices", list[DocumentOut])

    def statements(self, member: str) -> list[DocumentOut]:
        return self._call("GET", f"/members/{_seg(member)}/statements", list[DocumentOut])

    def invoice(self, member: str, number: str) -> DocumentOut:
        return self._call("GET", f"/members/{_seg(member)}/invoices/{_seg(number)}", DocumentOut)

    def invoice_csv(self, member: str, number: str) -> str:
        return self._raw("GET", f"/members/{_seg(member)}/invoices/{_seg(number)}.csv").decode()

    def invoice_pdf(self, member: str, number: str) -> bytes:
        return self._raw("GET", f"/members/{_seg(member)}/invoices/{_seg(number)}.pdf")

    def credit_note(self, number: str, body: CreditNoteCreate) -> DocumentOut:
        return self._call("POST", f"/invoices/{_seg(number)}/credit-notes", DocumentOut, body)

    def showback(self, member: str, period: str) -> ShowbackOut:
        return self._call("GET", f"/members/{_seg(member)}/showback", ShowbackOut, params={"period": period})

    def usage(self, member: str, start: datetime, end: datetime) -> MemberUsageOut:
        return self._call("GET", f"/members/{_seg(member)}/usage", MemberUsageOut,
                          params={"from": start.isoformat(), "to": end.isoformat()})


class ApiClient(BillingClient):
    """The API as members, lenders and the operator use it."""

    def login(self, body: TokenCreate) -> TokenCreated:
        return self._call("POST", "/auth/tokens", TokenCreated, body)

    def whoami(self) -> WhoAmI:
        return self._call("GET", "/auth/whoami", WhoAmI)

    def list_tokens(self) -> list[TokenOut]:
        return self._call("GET", "/auth/tokens", list[TokenOut])

    def revoke_token(self, token_id: str) -> None:
        self._raw("DELETE", f"/auth/tokens/{_seg(token_id)}")

    def create_user(self, body: UserCreate) -> UserOut:
        return self._call("POST", "/users", UserOut, body)

    def list_users(self) -> list[UserOut]:
        return self._call("GET", "/users", list[UserOut])

    def health(self) -> dict[str, str]:
        return self._call("GET", "/healthz", dict[str, str])

    def create_member(self, body: MemberCreate) -> MemberOut:
        return self._call("POST", "/members", MemberOut, body)

    def list_members(self) -> list[MemberOut]:
        return self._call("GET", "/members", list[MemberOut])

    def get_member(self, ref: str) -> MemberOut:
        return self._call("GET", f"/members/{_seg(ref)}", MemberOut)

    def add_agreement(self, member: str, body: AgreementCreate) -> AgreementOut:
        return self._call("POST", f"/members/{_seg(member)}/agreements", AgreementOut, body)

    def create_site(self, body: SiteCreate) -> SiteOut:
        return self._call("POST", "/sites", SiteOut, body)

    def list_sites(self, member_id: str | None = None) -> list[SiteOut]:
        return self._call("GET", "/sites", list[SiteOut], params={"member_id": member_id})

    def get_site(self, ref: str) -> SiteOut:
        return self._call("GET", f"/sites/{_seg(ref)}", SiteOut)

    def set_offer(self, site: str, offer: OfferSet) -> OfferOut:
        return self._call("PUT", f"/sites/{_seg(site)}/offer", OfferOut, offer)

    def get_offer(self, site: str) -> OfferOut:
        return self._call("GET", f"/sites/{_seg(site)}/offer", OfferOut)

    def propose_certification(self, site: str, body: CertificationIn) -> SiteOut:
        return self._call("POST", f"/sites/{_seg(site)}/certifications", SiteOut, body)

    def attest_certification(self, site: str, kind: str, body: CertificationAttest) -> SiteOut:
        return self._call("POST", f"/sites/{_seg(site)}/certifications/{_seg(kind)}/attest", SiteOut, body)

    def revoke_attestation(self, site: str, kind: str) -> SiteOut:
        return self._call("DELETE", f"/sites/{_seg(site)}/certifications/{_seg(kind)}/attest", SiteOut)

    def set_host_offer(self, host_id: str, offer: OfferSet) -> OfferOut:
        return self._call("PUT", f"/hosts/{_seg(host_id)}/offer", OfferOut, offer)

    def get_host_offer(self, host_id: str) -> OfferOut:
        return self._call("GET", f"/hosts/{_seg(host_id)}/offer", OfferOut)

    def create_group(self, body: PlacementGroupCreate) -> PlacementGroupOut:
        return self._call("POST", "/placement-groups", PlacementGroupOut, body)

    def list_groups(self, member_id: str | None = None) -> list[PlacementGroupOut]:
        return self._call("GET", "/placement-groups", list[PlacementGroupOut], params={"member_id": member_id})

    def revoke_site_agents(self, site: str) -> int:
        return self._call("DELETE", f"/sites/{_seg(site)}/credentials", dict[str, int])["revoked"]

    def issue_join_token(self, site: str) -> JoinTokenOut:
        return self._call("POST", f"/sites/{_seg(site)}/join-tokens", JoinTokenOut)

    def list_hosts(self, site_id: str | None = None) -> list[HostOut]:
        return self._call("GET", "/hosts", list[HostOut], params={"site_id": site_id})

    def set_host_power(self, host_id: str, body: HostPowerSet) -> HostOut:
        return self._call("PUT", f"/hosts/{_seg(host_id)}/power", HostOut, body)

    def get_host(self, host_id: str) -> HostOut:
        return self._call("GET", f"/hosts/{_seg(host_id)}", HostOut)

    def set_host_reserve(self, host_id: str, body: HostReserveSet) -> HostOut:
        return self._call("PUT", f"/hosts/{_seg(host_id)}/reserve", HostOut, body)

    def create_offering(self, body: OfferingCreate) -> OfferingOut:
        return self._call("POST", "/offerings", OfferingOut, body)

    def list_offerings(self) -> list[OfferingOut]:
        return self._call("GET", "/offerings", list[OfferingOut])

    def create_workload(self, body: WorkloadCreate) -> WorkloadOut:
        return self._call("POST", "/workloads", WorkloadOut, body)

    def list_workloads(self, member_id: str | None = None, state: str | None = None,
                       include_deleted: bool = False) -> list[WorkloadOut]:
        """Every matching workload, page after page."""
        out: list[WorkloadOut] = []
        while True:
            page: list[WorkloadOut] = self._call("GET", "/workloads", list[WorkloadOut],
                              params={"member_id": member_id, "state": state, "offset": len(out),
                                      "include_deleted": "true" if include_deleted else None})
            out += page
            if len(page) < 1000:
                return out

    def get_workload(self, workload_id: str) -> WorkloadOut:
        return self._call("GET", f"/workloads/{_seg(workload_id)}", WorkloadOut)

    def workload_samples(self, workload_id: str, limit: int = 1000) -> list[UsageSampleOut]:
        return self._call("GET", f"/workloads/{_seg(workload_id)}/samples", list[UsageSampleOut],
                          params={"limit": limit})

    def delete_workload(self, workload_id: str) -> WorkloadOut:
        return self._call("DELETE", f"/workloads/{_seg(workload_id)}", WorkloadOut)

    def start_workload(self, workload_id: str) -> WorkloadOut:
        return self._call("POST", f"/workloads/{_seg(workload_id)}/start", WorkloadOut)

    def stop_workload(self, workload_id: str) -> WorkloadOut:
        return self._call("POST", f"/workloads/{_seg(workload_id)}/stop", WorkloadOut)

    def reboot_workload(self, workload_id: str) -> WorkloadOut:
        return self._call("POST", f"/workloads/{_seg(workload_id)}/reboot", WorkloadOut)

    def resize_workload(self, workload_id: str, offering: str) -> WorkloadOut:
        return self._call("POST", f"/workloads/{_seg(workload_id)}/resize", WorkloadOut,
                          WorkloadResize(offering_id=offering))

    def create_network(self, body: NetworkCreate) -> NetworkOut:
        return self._call("POST", "/networks", NetworkOut, body)

    def list_networks(self, member_id: str | None = None) -> list[NetworkOut]:
        return self._call("GET", "/networks", list[NetworkOut], params={"member_id": member_id})

    def get_network(self, ref: str) -> NetworkOut:
        return self._call("GET", f"/networks/{_seg(ref)}", NetworkOut)

    def delete_network(self, ref: str) -> None:
        self._raw("DELETE", f"/networks/{_seg(ref)}")

    def list_ports(self, member_id: str | None = None, network_id: str | None = None) -> list[PortOut]:
        return self._call("GET", "/ports", list[PortOut], params={"member_id": member_id, "network_id": network_id})

    def create_security_group(self, body: SecurityGroupCreate) -> SecurityGroupOut:
        return self._call("POST", "/security-groups", SecurityGroupOut, body)

    def list_security_groups(self, member_id: str | None = None) -> list[SecurityGroupOut]:
        return self._call("GET", "/security-groups", list[SecurityGroupOut], params={"member_id": member_id})

    def get_security_group(self, ref: str) -> SecurityGroupOut:
        return self._call("GET", f"/security-groups/{_seg(ref)}", SecurityGroupOut)

    def delete_security_group(self, ref: str) -> None:
        self._raw("DELETE", f"/security-groups/{_seg(ref)}")

    def add_security_rule(self, group: str, body: RuleIn) -> SecurityGroupOut:
        return self._call("POST", f"/security-groups/{_seg(group)}/rules", SecurityGroupOut, body)

    def delete_security_rule(self, group: str, rule_id: str) -> None:
        self._raw("DELETE", f"/security-groups/{_seg(group)}/rules/{_seg(rule_id)}")


class AgentClient(_Base):
    """The agent channel; ``token`` is the site credential once joined."""

    def join(self, join_token: str, agent_name: str) -> JoinResponse:
        return self._call("POST", "/agent/join", JoinResponse,
                          JoinRequest(join_token=join_token, agent_name=agent_name))

    def heartbeat(self, body: Heartbeat) -> HeartbeatResponse:
        return self._call("POST", "/agent/heartbeat", HeartbeatResponse, body)

    def desired(self) -> DesiredState:
        return self._call("GET", "/agent/desired", DesiredState)

    def report(self, body: Report) -> ReportResponse:
        return self._call("POST", "/agent/report", ReportResponse, body)

    def usage(self, body: UsageBatch) -> UsageAck:
        return self._call("POST", "/agent/usage", UsageAck, body)


def _seg(value: str) -> str:
    """One path segment, escaped so that a name with a slash cannot reach another route."""
    return quote(value, safe="")
