"""ASGI middleware of the API: one transaction per change (with its audit entry and Idempotency-Key answer),
request size and media type, the client's address behind trusted proxies, and headers on every answer.

All of them are plain ASGI (no BaseHTTPMiddleware), so bodies stream and the
routes see the request as sent.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import anyio

from civicloud.api import idempotency
from civicloud.clock import Clock, IdSource
from civicloud.domain.audit import AuditEntry
from civicloud.error_codes import STATUS
from civicloud.errors import CivicloudError
from civicloud.store import (
    Engine,
    SharedTransaction,
    SqlUnitOfWork,
    outside_transaction,
)

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API_PREFIX = "/api/v1"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Machine telemetry, many times a minute per site: recorded in its own tables, not in the audit log.
TELEMETRY = frozenset({"/api/v1/agent/heartbeat", "/api/v1/agent/report", "/api/v1/agent/usage"})
MAX_BODY = 1 << 20  # 1 MiB: the largest legitimate body (1,000 usage samples) is well under it


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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """Refuses bodies over ``limit`` bytes with 413 before any route reads them, and bodies that are not JSON
    with 415; keeps the body's SHA-256 for ``Idempotency-Key`` (``scope["state"]["body_sha256"]``)."""

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
        if body.strip() and not _is_json(_header(scope, b"content-type")):
            await _answer(send, *_error(415, "civicloud.request.unsupported_media_type",
                                        "send the body as JSON, with 'Content-Type: application/json'"))
            return
        scope.setdefault("state", {})["body_sha256"] = hashlib.sha256(body).hexdigest()
        await self.app(scope, _replay(body), send)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class ClientAddress:
    """The client's address: the peer's, or — only when the peer is a proxy listed in settings
    (``CIVICLOUD_TRUSTED_PROXIES``; none by default) — the last address in ``X-Forwarded-For`` that is not
    one of those proxies. Anybody else's ``X-Forwarded-For`` is ignored: it would let a caller choose the
    address the audit log records and the per-address login limit counts."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and self.trusted and client and self._is_trusted(client[0]):
            forwarded = ",".join(v.decode("latin-1") for k, v in scope.get("headers", [])
                                 if k.lower() == b"x-forwarded-for")
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            for hop in reversed(hops):
                if not self._is_trusted(hop):
                    try:
                        ipaddress.ip_address(hop)
                    except ValueError:
                        break  # a proxy we trust would not write that: keep the peer's address
                    scope = {**scope, "client": (hop, 0)}
                    break
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Headers every answer carries — no sniffing, no framing, no referrer, no caching of API answers — whatever
    produced it: a route, an error handler, or an exception nothing else caught, which becomes a 500 here
    (logged, not raised on, so the server keeps the client's connection for its next request)."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]
    CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
    # The interactive docs page loads Swagger UI's script and style and runs an inline script.
    DOCS_CSP = (b"content-security-policy", b"default-src 'none'; script-src 'self' 'unsafe-inline' "
                b"https://cdn.jsdelivr.net; style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
                b"https://fastapi.tiangolo.com; connect-src 'self'; frame-ancestors 'none'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*self.HEADERS, self.DOCS_CSP if scope["path"].endswith("/docs") else self.CSP]
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _v in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in names)]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _answer(with_headers, *_error(
                    500, "civicloud.internal", "an internal error happened; it has been logged. Retry, and "
                    "report it to the federation operator if it persists"))


class _Held:
    """Holds an answer back (status, headers, body) until the request's transaction is settled."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.body = bytearray()
        self.more: list[Message] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
        else:
            self.more.append(message)

    @property
    def status(self) -> int:
        return self.start["status"] if self.start else 500

    async def release(self, send: Send) -> None:
        if self.start is None:
            return
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        await send({**self.start, "headers": [*headers, (b"content-length", str(len(self.body)).encode())]})
        await send({"type": "http.response.body", "body": bytes(self.body)})


def _printable(text: str) -> str:
    """``text`` with control characters written as escapes: a path can hold a NUL byte, which PostgreSQL's text
    refuses, and the audit log must take every request's entry."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def _audited(scope: Scope, status: int) -> bool:
    """Every change the API answers is audited, refusals included; not agents' telemetry, nor a request that
    reached no route (an unknown path, a method the route does not take): nothing was acted on."""
    return scope["path"] not in TELEMETRY and scope.get("route") is not None and status != 405


class RequestTransaction:
    """Every request the API answers is one database transaction on one connection. A change's action, its
    audit entry and the stored answer of its ``Idempotency-Key`` commit together, before the answer leaves; a
    read's transaction ends as its answer starts (``_read``).

    Who acted comes from the route's credential check (``scope["state"]``, set in ``api.deps``); what was
    created, from the answer's ``id``. Refusals (4xx) are audited too, in the same transaction as whatever the
    request did before it was refused. A failure of the server's own (5xx, an exception, a commit that fails)
    rolls the whole request back — nothing half-written, no key kept — and is audited in a transaction of its
    own. Agent telemetry is recorded in its own tables, not in the audit log."""

    def __init__(self, app: ASGIApp, engine: Engine, clock: Clock, new_id: IdSource) -> None:
        self.app, self.engine, self.clock, self.new_id = app, engine, clock, new_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] not in MUTATING:
            await self._read(scope, receive, send)
            return
        tx = SharedTransaction(self.engine)
        held = _Held()
        with tx.current():
            try:
                await self.app(scope, receive, held.send)
            except Exception:
                await anyio.to_thread.run_sync(self._failed, tx, scope, 500)
                raise
        if held.status >= 500:
            await anyio.to_thread.run_sync(self._failed, tx, scope, held.status)
        else:
            try:
                await anyio.to_thread.run_sync(self._commit, tx, scope, held.status, bytes(held.body))
            except CivicloudError as exc:
                log.error("a change was not saved (%s): %s", exc.code, exc.message)
                status = STATUS[exc.kind]  # a conflict at commit is 409, a lost database 503, a bad value 422
                await anyio.to_thread.run_sync(self._failed, tx, scope, status)
                await _answer(send, *_error(status, exc.code, exc.message))
                return
        await held.release(send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A read is one transaction too, on one connection: every unit of work of the request joins it, so the
        request checks a connection out of the pool (and pings it) once, not once per unit of work. It ends as
        the answer starts — committed (a read takes no lock a commit could wait on), or rolled back on a server
        error — with no hop to a thread and nothing held back: the answer streams as the route sends it."""
        tx = SharedTransaction(self.engine)
        settled = False

        def settle(status: int) -> None:
            nonlocal settled
            if settled:
                return
            settled = True
            if status >= 500:
                tx.rollback()
                return
            try:
                tx.commit()
            except CivicloudError as exc:  # the answer was read: it stands; whatever the read wrote is undone
                log.error("a read's transaction did not commit (%s): %s", exc.code, exc.message)
                tx.rollback()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                settle(message["status"])
            await send(message)

        with tx.current():
            try:
                await self.app(scope, receive, sending)
            finally:
                if not settled:
                    settled = True
                    tx.rollback()

    def _commit(self, tx: SharedTransaction, scope: Scope, status: int, body: bytes) -> None:
        with tx.current():
            state = scope.get("state") or {}
            claimed: tuple[str, str] | None = state.get("idempotency")  # (principal, key): deps.require_operator
            if claimed is not None:  # the request's last writes: no savepoint (a failure rolls back it all)
                with SqlUnitOfWork(self.engine, self.clock, self.new_id, savepoint=False) as uow:
                    uow.idempotency.answer(*claimed, status, idempotency.stored_answer(body))
                    uow.commit()
            if _audited(scope, status):
                self._append(self._entry(scope, status, body))
            tx.commit()

    def _failed(self, tx: SharedTransaction, scope: Scope, status: int) -> None:
        tx.rollback()
        if not _audited(scope, status):
            return
        try:
            with outside_transaction():
                self._append(self._entry(scope, status, b""))
        except CivicloudError as exc:
            log.error("audit entry not written (%s: %s): %s %s", exc.code, exc.message, scope["method"],
                      scope["path"])

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
        if state.get("replayed"):
            target = f"{target},replay" if target else "replay"
        client = scope.get("client")
        return AuditEntry(0, self.clock(), state.get("actor", "anonymous"), state.get("member_id"),
                          state.get("role", "none"), _printable(f"{scope['method']} {template}")[:200],
                          _printable(target)[:500], status, _printable(client[0] if client else "")[:64])

    def _append(self, entry: AuditEntry) -> None:
        """Chain the entry after the head, in the current transaction (its last write: no savepoint) or one of
        its own."""
        with SqlUnitOfWork(self.engine, self.clock, self.new_id, savepoint=False) as uow:
            uow.audit.chain([entry])
            uow.commit()
