"""One database transaction shared by every unit of work of one API request.

A mutating request is one transaction: the action, its audit entry and the stored answer of its
``Idempotency-Key`` commit together or not at all. The API's middleware makes a ``SharedTransaction``
current for the request; every ``SqlUnitOfWork`` entered meanwhile on the same engine joins it as a
savepoint (its ``commit`` releases the savepoint, leaving without commit rolls back to it), and the
middleware commits the whole once the answer is known. Work that must follow the commit (waking the
placement loop) is registered with ``after_commit``: outside a shared transaction it runs at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from civicloud.errors import Conflict, Unavailable

log = logging.getLogger(__name__)
_current: ContextVar[SharedTransaction | None] = ContextVar("civicloud_shared_transaction", default=None)


class SharedTransaction:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._after: list[Callable[[], None]] = []

    def connection(self) -> Connection:
        """The transaction's connection, begun on first use (so a request that reads nothing takes no lock)."""
        if self._conn is None:
            try:
                conn = self.engine.connect()
                conn.begin()
            except (OperationalError, SAInterfaceError) as exc:
                raise Unavailable(f"the database cannot be reached ({type(exc.orig).__name__}); retry in a moment",
                                  code="civicloud.store.unavailable") from exc
            self._conn = conn
        return self._conn

    @property
    def begun(self) -> bool:
        return self._conn is not None

    def after_commit(self, action: Callable[[], None]) -> None:
        if action not in self._after:
            self._after.append(action)

    def commit(self) -> None:
        """Commit, then run what waited for it. Database errors leave as Conflict or Unavailable."""
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                try:
                    conn.commit()
                except IntegrityError as exc:
                    raise Conflict("this conflicts with something that already exists (a name or id must be "
                                   "unique)", code="civicloud.store.conflict") from exc
                except (OperationalError, SAInterfaceError) as exc:
                    raise Unavailable("the database failed while saving this change; nothing was saved, retry "
                                      "in a moment", code="civicloud.store.unavailable") from exc
        finally:
            if conn is not None:
                conn.close()
        after, self._after = self._after, []
        for action in after:
            try:
                action()
            except Exception:  # a wake-up that fails must not turn a saved change into an error
                log.exception("after-commit action failed")

    def rollback(self) -> None:
        conn, self._conn = self._conn, None
        self._after = []
        if conn is not None:
            try:
                if conn.in_transaction():
                    conn.rollback()
            finally:
                conn.close()

    @contextmanager
    def current(self) -> Iterator[SharedTransaction]:
        """Make this the transaction units of work join, in this context (and the threads it starts work in)."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


def current_transaction(engine: Engine | None = None) -> SharedTransaction | None:
    tx = _current.get()
    if tx is None or (engine is not None and tx.engine is not engine):
        return None
    return tx


@contextmanager
def outside_transaction() -> Iterator[None]:
    """Run units of work in transactions of their own even while a shared one is current."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the current shared transaction commits (never if it rolls back); at once outside one."""
    tx = _current.get()
    if tx is None:
        action()
    else:
        tx.after_commit(action)
