"""The client raises an error answer as the ApiError of its kind, also the civicloud.errors class of that kind.

A mock transport is honest here: what is tested is how the client reads an answer, whatever sent it."""

from __future__ import annotations

import httpx
import pytest

from civicloud.client import (
    ApiClient,
    ApiConflict,
    ApiError,
    ApiForbidden,
    ApiInternal,
    ApiInvalid,
    ApiNotFound,
    ApiRateLimited,
    ApiTooLarge,
    ApiUnauthorized,
    ApiUnavailable,
    ApiUnsupportedMediaType,
)
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


def answering(status: int, body: object = None, text: str | None = None) -> ApiClient:
    def handler(_request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)

    return ApiClient("http://cp.test", transport=httpx.MockTransport(handler))


def body(code: str, field: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": f"{code}, in words"}
    if field:
        error["field"] = field
    return {"error": error}


CASES = [
    # (status, code, the client's class, the hierarchy's class, kind)
    (400, "civicloud.request.bad", ApiInvalid, InvalidInput, ErrorKind.INVALID),
    (401, "civicloud.auth.invalid_token", ApiUnauthorized, Unauthorized, ErrorKind.UNAUTHORIZED),
    (403, "civicloud.auth.forbidden", ApiForbidden, Forbidden, ErrorKind.FORBIDDEN),
    (404, "civicloud.workload.not_found", ApiNotFound, NotFound, ErrorKind.NOT_FOUND),
    (405, "civicloud.route.method_not_allowed", ApiInvalid, InvalidInput, ErrorKind.INVALID),
    (409, "civicloud.concurrent_update", ApiConflict, Conflict, ErrorKind.CONFLICT),
    (413, "civicloud.request.too_large", ApiTooLarge, InvalidInput, ErrorKind.INVALID),
    (415, "civicloud.request.unsupported_media_type", ApiUnsupportedMediaType, InvalidInput, ErrorKind.INVALID),
    (422, "civicloud.request.invalid", ApiInvalid, InvalidInput, ErrorKind.INVALID),
    (429, "civicloud.auth.rate_limited", ApiRateLimited, RateLimited, ErrorKind.RATE_LIMITED),
    (500, "civicloud.internal", ApiInternal, CivicloudError, ErrorKind.INTERNAL),
    (503, "civicloud.store.unavailable", ApiUnavailable, Unavailable, ErrorKind.UNAVAILABLE),
]


@pytest.mark.parametrize(("status", "code", "client_class", "kind_class", "kind"), CASES,
                         ids=[str(c[0]) for c in CASES])
def test_an_error_answer_is_raised_as_its_kind(status: int, code: str, client_class: type, kind_class: type,
                                               kind: ErrorKind) -> None:
    with pytest.raises(kind_class) as raised:
        answering(status, body(code, "name")).get_workload("w1")
    err = raised.value
    assert type(err) is client_class and isinstance(err, ApiError)
    assert (err.status, err.code, err.message, err.field, err.kind) == (status, code, f"{code}, in words", "name",
                                                                         kind)


@pytest.mark.parametrize(("status", "kind_class", "kind"), [
    (502, CivicloudError, ErrorKind.INTERNAL), (504, CivicloudError, ErrorKind.INTERNAL),
    (503, Unavailable, ErrorKind.UNAVAILABLE), (404, NotFound, ErrorKind.NOT_FOUND),
    (418, InvalidInput, ErrorKind.INVALID)])
def test_an_answer_without_a_civicloud_body_is_raised_by_its_status(status: int, kind_class: type,
                                                                    kind: ErrorKind) -> None:
    """A proxy's page in front of the API: the code says the status, the kind is the status's."""
    with pytest.raises(kind_class) as raised:
        answering(status, text="<html>Bad Gateway</html>").list_members()
    assert isinstance(raised.value, ApiError)
    assert (raised.value.status, raised.value.code, raised.value.kind) == (status, f"civicloud.http.{status}", kind)


def test_an_internal_answer_is_no_other_kind() -> None:
    with pytest.raises(ApiInternal) as raised:
        answering(500, body("civicloud.internal")).list_members()
    assert not isinstance(raised.value, InvalidInput | NotFound | Conflict | Unauthorized | Unavailable)


def test_an_unreachable_server_is_unavailable_and_not_an_answer() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unavailable) as raised:
        ApiClient("http://cp.test", transport=httpx.MockTransport(refuse)).list_members()
    assert raised.value.code == "civicloud.client.unreachable" and not isinstance(raised.value, ApiError)
