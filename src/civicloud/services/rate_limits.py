"""Rate limits that hold across replicas: counts in the database, a sliding window over two fixed ones.

A ``RateLimiter`` admits at most ``attempts`` checks per key in a sliding ``window_s`` (the weighted estimate
of ``domain/rate_limits.py``), counted in the ``rate_limits`` table, so every replica of the control plane on
one database counts against the same limit. Keys are "addr:<client address>", "login:<login>" (logins, 10 a
minute) and "token:<API token id>" (``CIVICLOUD_TOKEN_REQUESTS_PER_MINUTE``).

A check is one short transaction of its own, committed before the request goes on, even while the API's
shared transaction of a mutating request is current (``store.outside_transaction``):

- a check counts whatever becomes of the request — a refused login (401) like a request the server fails
  and rolls back (5xx): counted inside the request's transaction, a failure would forget its attempts;
- on PostgreSQL the counter's row is locked from its increment to its transaction's end: inside the request's
  transaction, every other request of the same token (or logins from the same address, while a password hash
  is verified) would wait for this whole request to finish. Its own transaction holds it for one statement.

A refused check (429) counts nothing, as before: a client that keeps knocking is admitted again as soon as
the window lets it. Checks of several keys (an address and a login) pass or fail together: when one key is
over its limit, none of them counts that check. Keys are taken in sorted order, so two checks never wait on
each other's rows in a cycle.

A large limit is counted in leases: a limiter whose limit for a key is in the thousands a minute (an API
token's) takes ``lease_size(limit)`` checks at once from the key's row — all or none, in the same atomic
statement — and admits the next ones from that lease in memory, so that an integrator's token costs the
database one counting transaction every few dozen requests rather than one a request. One process never
admits more than before: every check it admits was counted in the row first. Across processes and replicas,
a lease's unused checks (at most ``lease_size`` per process and key) are counted without being used and end
with their window: the limit can bite up to that many checks early, never late. Near the limit, where a
whole lease no longer fits, checks are counted one by one as for a small limit. Small limits (logins: 10 a
minute) are never leased.

Expired windows (two windows after their start) are deleted by a sweep that each limiter runs at most once a
window, in a transaction of its own: the table holds at most two rows per key checked in the last two windows.

Call ``check`` before the request's transaction has begun (the route's first use of the database): on SQLite
that transaction holds the database's write lock, which the check's own transaction would wait for.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from civicloud.domain.rate_limits import Window, allowance, wait_us, window_at
from civicloud.errors import RateLimited
from civicloud.store import UnitOfWork, outside_transaction

MAX_KEY = 200  # the column's width; a longer key is counted under its SHA-256
MAX_LEASE = 32


def lease_size(limit: int) -> int:
    """How many checks are counted at once for a key limited to ``limit`` a window: 1 % of the limit, at most
    ``MAX_LEASE``; 1 (no lease) under 200 a window."""
    return max(1, min(MAX_LEASE, limit // 100))


class RateLimiter:
    """At most ``attempts`` in ``window_s`` per key — a client address, a login, an API token — across every
    replica on the database."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], attempts: int = 10, window_s: float = 60.0,
                 message: str = "too many logins from here or for this login") -> None:
        if attempts < 1:
            raise ValueError("a rate limit admits at least one check a window")
        self.uow_factory, self.attempts, self.window, self.message = uow_factory, attempts, window_s, message
        self._swept: datetime | None = None  # the start of the last window this limiter swept in
        self._lock = threading.Lock()
        # Checks counted in the store and not used yet, per key, all in the window starting at _lease_window.
        self._leases: dict[str, int] = {}
        self._lease_window: datetime | None = None

    def check(self, *keys: str, attempts: int | None = None) -> None:
        """Count one check for every key, or raise ``RateLimited`` (429) and count nothing; ``attempts`` a
        window instead of the limiter's own, for a caller whose limit depends on who it is."""
        limit = attempts or self.attempts
        lease = lease_size(limit) if len(keys) == 1 else 1
        with outside_transaction():
            uow = self.uow_factory()
            window = window_at(uow.clock(), self.window)
            if lease > 1 and self._use_lease(keys[0], window.start):
                return
            self._sweep(window.start)
            with uow:
                kept = self._take_lease(uow, window, keys[0], limit, lease) if lease > 1 else 0
                if lease <= 1:
                    self.count(uow, window, keys, attempts)
                uow.commit()
            if kept:  # once counted for good: a lease whose count did not commit is no lease
                with self._lock:
                    if self._lease_window != window.start:
                        self._leases, self._lease_window = {}, window.start
                    self._leases[keys[0]] = self._leases.get(keys[0], 0) + kept

    def _use_lease(self, key: str, window_start: datetime) -> bool:
        """Admit one check from the key's lease in this window, if one is left."""
        with self._lock:
            if self._lease_window != window_start:  # a new window: what was left of the last one is spent
                self._leases, self._lease_window = {}, window_start
                return False
            left = self._leases.get(key, 0)
            if left <= 0:
                return False
            self._leases[key] = left - 1
            return True

    def _take_lease(self, uow: UnitOfWork, window: Window, key: str, limit: int, lease: int) -> int:
        """Count ``lease`` checks for the key in ``uow``: this one and the ones to keep for the next checks
        (answered); where a whole lease does not fit any more, count this check alone (or raise
        ``RateLimited``) and keep none."""
        stored = _stored(key)
        room = allowance(limit, uow.rate_limits.count(stored, window.previous), window)
        if uow.rate_limits.take(stored, window.start, window.expires_at, room, lease) is None:
            self.count(uow, window, [key], limit)
            return 0
        return lease - 1

    def count(self, uow: UnitOfWork, window: Window, keys: Iterable[str], attempts: int | None = None) -> None:
        """Count the check in ``uow`` (entered), or raise ``RateLimited``: leaving ``uow`` without commit then
        undoes the keys counted already."""
        for key in sorted({_stored(k) for k in keys}):
            previous = uow.rate_limits.count(key, window.previous)
            limit = attempts or self.attempts
            room = allowance(limit, previous, window)
            if uow.rate_limits.take(key, window.start, window.expires_at, room) is None:
                current = uow.rate_limits.count(key, window.start)
                wait = max(1, math.ceil(wait_us(limit, previous, current, window) / 1_000_000))
                raise RateLimited(f"{self.message}; retry in {wait} s", code="civicloud.auth.rate_limited",
                                  retry_after_s=wait)

    def _sweep(self, window_start: datetime) -> None:
        """Delete the expired windows, once per window of this limiter (any replica's sweep serves all)."""
        with self._lock:
            if self._swept is not None and self._swept >= window_start:
                return
            self._swept = window_start
        with self.uow_factory() as uow:
            uow.rate_limits.forget_expired(uow.clock())
            uow.commit()


def _stored(key: str) -> str:
    if len(key) <= MAX_KEY:
        return key
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()}"
