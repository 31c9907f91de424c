"""ASGI middleware of the API: the audit trail of every change, Idempotency-Key, request size, headers.

All of them are plain ASGI (no BaseHTTPMiddleware), so bodies stream and the
routes see the request as sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from civicloud.domain.audit import AuditEntry
from civicloud.errors import CivicloudError
from civicloud.store import UnitOfWork

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UowFactory = Callable[[], UnitOfWork]

API_PREFIX = "/api/v1"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Machine telemetry, many times a minute per site: recorded in its own tables, not in the audit log.
TELEMETRY = frozenset({"/api/v1/agent/heartbeat", "/api/v1/agent/report", "/api/v1/agent/usage"})
MAX_BODY = 1 << 20  # 1 MiB: the largest legitimate body (1,000 usage samples) is well under it
KEPT_FOR = timedelta(days=1)  # how long an Idempotency-Key is remembered


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode()


async def _answer(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is over ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class _Recorder:
    """Passes an answer on, remembering its status and up to ``keep`` bytes of its body."""

    def __init__(self, send: Send, keep: int) -> None:
        self._send, self._keep = send, keep
        self.status = 500  # what counts if the app fails before it answers
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and len(self.body) < self._keep:
            self.body.extend(message.get("body", b""))
        await self._send(message)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413 before any route reads them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _answer(send, *_error(413, "civicloud.request.too_large",
                                        f"the body is over {self.limit:,} bytes; send less at a time"))
            return
        body = await _read_body(receive, self.limit)
        if body is None:
            await _answer(send, *_error(413, "civicloud.request.too_large",
                                        f"the body is over {self.limit:,} bytes; send less at a time"))
            return
        await self.app(scope, _replay(body), send)


class SecurityHeaders:
    """Headers every answer carries: no sniffing, no framing, no referrer, no caching of API answers."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
               (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith("/docs"):  # the interactive docs load their script
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _v in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


class Audit:
    """Appends an entry to the hash-chained audit log for every change the API answers (telemetry aside).

    Who acted comes from the route's credential check (``scope["state"]["actor"]``, set in ``api.deps``);
    what was created, from the answer's ``id``. The entry is written once the answer is sent, outside the
    action's own transaction: if the database fails then, the failure is logged and the action stands."""

    def __init__(self, app: ASGIApp, uow_factory: UowFactory) -> None:
        self.app, self.uow_factory = app, uow_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or scope["path"] in TELEMETRY:
            await self.app(scope, receive, send)
            return
        answer = _Recorder(send, keep=65536)
        try:
            await self.app(scope, receive, answer.send)
        finally:
            entry = self._entry(scope, answer.status, bytes(answer.body))
            await anyio.to_thread.run_sync(self._append, entry)

    def _entry(self, scope: Scope, status: int, body: bytes) -> AuditEntry:
        state = scope.get("state") or {}
        route = scope.get("route")
        # The route's own path is relative to the API prefix every router of the app is mounted at.
        relative = getattr(route, "path_format", None)
        template = f"{API_PREFIX}{relative}" if relative and not relative.startswith(API_PREFIX) else \
            relative or scope["path"]
        target = ",".join(f"{k}={v}" for k, v in sorted((scope.get("path_params") or {}).items()))
        if 200 <= status < 300 and body[:1] == b"{":
            try:
                created = json.loads(body).get("id")
            except (ValueError, AttributeError):
                created = None
            if created and f"={created}" not in target:
                target = f"{target},id={created}" if target else f"id={created}"
        client = scope.get("client")
        return AuditEntry(0, datetime.now(UTC), state.get("actor", "anonymous"), state.get("member_id"),
                          state.get("role", "none"), f"{scope['method']} {template}"[:200], target[:500], status,
                          (client[0] if client else "")[:64])

    def _append(self, entry: AuditEntry) -> None:
        for _ in range(20):
            try:
                with self.uow_factory() as uow:
                    if uow.audit.append(entry) is not None:
                        uow.commit()
                        return
            except CivicloudError as exc:
                log.error("audit entry not written (%s: %s): %s %s by %s", exc.code, exc.message, entry.action,
                          entry.target, entry.actor)
                return
        log.error("audit entry not written after 20 tries: %s %s by %s", entry.action, entry.target, entry.actor)


class Idempotency:
    """``Idempotency-Key`` on POST: the first answer is stored and replayed to a retry with the same key.

    Keys are per caller (the credential it sends) and kept a day. The same key with another body or on
    another route is refused (422 ``civicloud.idempotency.key_reused``); a retry arriving while the first
    request is still being handled gets 409 ``civicloud.idempotency.in_progress``. An answer of the
    server's own failure (5xx) is not kept: the retry runs again."""

    def __init__(self, app: ASGIApp, uow_factory: UowFactory) -> None:
        self.app, self.uow_factory = app, uow_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" and scope["method"] == "POST" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        if not (1 <= len(key) <= 200) or not key.isprintable():
            await _answer(send, *_error(422, "civicloud.idempotency.invalid_key",
                                        "an Idempotency-Key is 1 to 200 printable characters, e.g. a UUID"))
            return
        body = await _read_body(receive, MAX_BODY) or b""
        principal = hashlib.sha256((_header(scope, b"authorization") or "anonymous").encode()).hexdigest()
        request = f"POST {scope['path']}"[:300]
        digest = hashlib.sha256(body).hexdigest()
        outcome = await anyio.to_thread.run_sync(self._claim, principal, key, request, digest)
        if outcome is not None:
            await _answer(send, *outcome, [(b"idempotent-replayed", b"true")] if outcome[0] < 400 else None)
            return
        answer = _Recorder(send, keep=MAX_BODY * 8)
        try:
            await self.app(scope, _replay(body), answer.send)
        finally:
            await anyio.to_thread.run_sync(self._settle, principal, key, answer.status, bytes(answer.body))

    def _claim(self, principal: str, key: str, request: str, digest: str) -> tuple[int, bytes] | None:
        """None: handle the request (the key is ours now); else the answer to send instead."""
        with self.uow_factory() as uow:
            found = uow.idempotency.get(principal, key)
            if found is None:
                uow.idempotency.forget_before(datetime.now(UTC) - KEPT_FOR)
                uow.idempotency.claim(principal, key, request, digest, datetime.now(UTC))
                try:
                    uow.commit()
                except CivicloudError:  # a concurrent first request claimed it between our read and write
                    return _error(409, "civicloud.idempotency.in_progress",
                                  "a request with this Idempotency-Key is being handled; retry in a moment")
                return None
        if found.request != request or found.body_sha256 != digest:
            return _error(422, "civicloud.idempotency.key_reused",
                          "this Idempotency-Key was used for another request; use a new key for a new request")
        if found.status is None:
            return _error(409, "civicloud.idempotency.in_progress",
                          "a request with this Idempotency-Key is being handled; retry in a moment")
        return found.status, (found.response or "").encode()

    def _settle(self, principal: str, key: str, status: int, body: bytes) -> None:
        try:
            with self.uow_factory() as uow:
                if status >= 500:
                    uow.idempotency.release(principal, key)
                else:
                    uow.idempotency.answer(principal, key, status, body.decode("utf-8", "replace"))
                uow.commit()
        except CivicloudError as exc:
            log.error("idempotency answer not kept (%s): %s", exc.code, exc.message)
