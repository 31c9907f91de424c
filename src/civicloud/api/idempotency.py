"""``Idempotency-Key`` on POST: a retry gets the first answer, after being authenticated and authorized again.

The rules (docs/security.md, "Idempotency"):

- A key is claimed by the route's guard (``deps.require_operator``), after the caller's credential and the
  route's rule were checked exactly as for a new request: a revoked token's retry is 401, a forbidden one 403.
- Keys belong to the principal (the user, or the operator's token), not to whatever credential string was
  sent: another principal's key is another key, and only the same principal ever gets the stored answer.
- Routes that take no operator credential (logging in, the agents' channel) are never replayed: the header
  is ignored there, and a single-use join token stays single-use under any retry.
- The claim, the action and the stored answer commit in one transaction (``middleware.RequestTransaction``),
  so a retry sent right after the first answer finds it, and a retry of a request that failed on the
  server's side (5xx: rolled back, nothing kept) runs again.
- An answer that carries a secret (``domain.secrets``) is never stored: a retry of it answers 409
  ``civicloud.idempotency.secret_shown_once``, naming what the first request created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from civicloud.domain.identity import Principal
from civicloud.domain.secrets import contains_secret
from civicloud.errors import Conflict, InvalidInput
from civicloud.store import UnitOfWork

KEPT_FOR = timedelta(days=1)  # how long an Idempotency-Key is remembered
_REDACTED = "civicloud.secret_shown_once"  # the key of a stored answer whose secret was dropped


class Replay(Exception):  # noqa: N818 — not an error: the stored answer, sent instead of running the route
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def owner_of(principal: Principal) -> str:
    """Whose keys these are: the user (whichever of its tokens it sends), else the named principal."""
    return f"user-id:{principal.user_id}" if principal.user_id else principal.actor


def check_key(key: str) -> None:
    if not (1 <= len(key) <= 200) or not key.isprintable():
        raise InvalidInput("an Idempotency-Key is 1 to 200 printable characters, e.g. a UUID",
                           code="civicloud.idempotency.invalid_key")


def claim(uow_factory: Callable[[], UnitOfWork], owner: str, key: str, request: str, body_sha256: str,
          now: datetime) -> None:
    """Make the key this request's, or raise what to answer instead: ``Replay`` with the stored answer,
    422 when the key was used for another request, 409 when its secret was shown once."""
    try:
        with uow_factory() as uow:
            found = uow.idempotency.get(owner, key)
            if found is None:
                uow.idempotency.forget_before(now - KEPT_FOR)
                uow.idempotency.claim(owner, key, request, body_sha256, now)
                uow.commit()
                return
    except Conflict:
        # A first request with this key committed between our read and our write (PostgreSQL waits on the
        # key's unique index until it does): its answer is there now.
        with uow_factory() as uow:
            found = uow.idempotency.get(owner, key)
        if found is None:
            raise
    if found.request != request or found.body_sha256 != body_sha256:
        raise InvalidInput("this Idempotency-Key was used for another request; use a new key for a new request",
                           code="civicloud.idempotency.key_reused")
    if found.status is None:
        raise Conflict("a request with this Idempotency-Key is being handled; retry in a moment",
                       code="civicloud.idempotency.in_progress")
    text = found.response or ""
    redacted = _redacted(text)
    if redacted is not None:
        made = f" (it created {redacted})" if redacted else ""
        raise Conflict(f"this request was done already{made}; the secret it answered with was shown once and is "
                       "not kept. If it was lost, revoke it and ask for a new one (with a new Idempotency-Key)",
                       code="civicloud.idempotency.secret_shown_once")
    raise Replay(found.status, text.encode())


def stored_answer(body: bytes) -> str:
    """What is kept of an answer for its replays: the answer itself, or, when it carries a secret, only the id
    of what it created."""
    text = body.decode("utf-8", "replace")
    if not contains_secret(text):
        return text
    try:
        created = json.loads(text).get("id") or json.loads(text).get("site_id")
    except (ValueError, AttributeError):
        created = None
    return json.dumps({_REDACTED: {"id": str(created) if created else ""}})


def _redacted(text: str) -> str | None:
    """The id a redacted answer names ("" if none), or None for an answer kept whole."""
    if _REDACTED not in text:
        return None
    try:
        value = json.loads(text)[_REDACTED]
    except (ValueError, KeyError, TypeError):
        return None
    return str(value.get("id", "")) if isinstance(value, dict) else ""
