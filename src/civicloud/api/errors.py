"""Every error leaves the API as {"error": {"code", "message", "field"}} with a stable code.

Nothing below the API raises HTTPException; this module maps CivicloudError
kinds to statuses (``civicloud.error_codes.STATUS``), and turns framework errors
(validation, unknown route, wrong method) and unexpected exceptions into the same
shape. Every code answered is in ``civicloud.error_codes.CATALOGUE``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from civicloud.api.idempotency import Replay
from civicloud.error_codes import STATUS
from civicloud.errors import CivicloudError, RateLimited
from civicloud.wire import ErrorBody

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "civicloud.request.bad",
    401: "civicloud.auth.unauthorized",
    404: "civicloud.route.not_found",
    405: "civicloud.route.method_not_allowed",
    413: "civicloud.request.too_large",
    415: "civicloud.request.unsupported_media_type",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": desc}
    for status, desc in ((400, "The body could not be read"), (401, "Missing or bad credential"),
                         (403, "The credential's roles do not allow it"), (404, "Not found"), (409, "Conflict"),
                         (413, "The body is over 1 MiB"), (415, "The body is not JSON"), (422, "Invalid input"),
                         (429, "Too many attempts"), (503, "The database is out of reach"))
}


def error_json(status: int, code: str, message: str, field: str | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Replay)
    async def _replay(_: Request, replay: Replay) -> Response:
        return Response(replay.body, status_code=replay.status, media_type="application/json",
                        headers={"Idempotent-Replayed": "true"})

    @app.exception_handler(CivicloudError)
    async def _civicloud(_: Request, exc: CivicloudError) -> JSONResponse:
        status = STATUS[exc.kind]
        if status >= 500:
            log.error("%s: %s", exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
            headers = {"Retry-After": str(exc.retry_after_s)}
        return error_json(status, exc.code, exc.message, exc.field, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        field = ".".join(loc) or None
        if first.get("type") == "json_invalid":
            return error_json(422, "civicloud.request.malformed_json",
                              "the request body is not valid JSON; send a JSON object")
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return error_json(422, "civicloud.request.invalid", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"civicloud.http.{exc.status_code}")
        message = {404: "no such route; see /api/v1/openapi.json for the API",
                   405: "this route does not take that method; see /api/v1/openapi.json"}.get(
            exc.status_code, str(exc.detail))
        return error_json(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_json(500, "civicloud.internal", "an internal error happened; it has been logged. "
                          "Retry, and report it to the federation operator if it persists")
