"""Waking the control loop in another process when a change committed: PostgreSQL NOTIFY, or a local socket.

When the API's workers and the control loop are separate processes (``civicloud server``), a committed change
that may let a pending workload fit (a unit of work's ``signal``) must reach the loop at once, not at its next
tick:

- on PostgreSQL, the unit of work says ``NOTIFY civicloud_<signal>`` in its own transaction, so the
  notification is delivered exactly when (and only if) the change commits — to every replica listening, on
  any machine — and the loop ``LISTEN``s on a connection of its own;
- on SQLite (one machine by nature), the worker sends a datagram to the loop's Unix socket in the data
  directory after the commit.

A lost wake-up costs one tick of the loop (CIVICLOUD_PLACEMENT_INTERVAL_S), never a decision: the loop reads
the store itself.
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
import socket
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

log = logging.getLogger(__name__)

SOCKET_NAME = "control-loop.sock"
_NAME = re.compile(r"^[a-z_]{1,40}$")


def channel(signal: str) -> str:
    """The PostgreSQL channel of a signal (its name is a constant of ``domain.events``)."""
    if not _NAME.fullmatch(signal):
        raise ValueError(f"not a signal name: {signal!r}")
    return f"civicloud_{signal}"


def socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


def uses_notify(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class LocalWaker:
    """Sends the loop's socket a datagram; never blocks and never fails the change that committed."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def __call__(self) -> None:
        with contextlib.suppress(OSError):  # no loop listening yet, or its queue is full: it wakes anyway
            self._sock.sendto(b"!", self._path)


class Listener(Protocol):
    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if woken (every wake-up queued meanwhile is consumed)."""
        ...

    def close(self) -> None: ...


class LocalListener:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a socket a killed loop left behind
        self._path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        path.chmod(0o600)  # the server's own processes only
        self._sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        ready, _, _ = select.select([self._sock], [], [], max(timeout, 0.0))
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while self._sock.recv(16):
                pass
        return True

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


class PgListener:
    """``LISTEN`` on a connection of its own (autocommit); reconnects after losing it."""

    def __init__(self, engine: Engine, signals: tuple[str, ...]) -> None:
        self._url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._channels = [channel(s) for s in signals]
        self._conn: Any = None  # a psycopg connection, once connected

    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(self._url, autocommit=True)
        for name in self._channels:
            conn.execute(f'LISTEN "{name}"')
        return conn

    def wait(self, timeout: float) -> bool:
        import psycopg

        try:
            if self._conn is None:
                self._conn = self._connect()
            got = list(self._conn.notifies(timeout=max(timeout, 0.0), stop_after=1))
            if got:
                list(self._conn.notifies(timeout=0.0))  # the others queued meanwhile
            return bool(got)
        except psycopg.Error as exc:
            log.warning("lost the wake-up channel (%s); ticking until it is back", exc)
            self.close()
            select.select([], [], [], max(timeout, 0.0))
            return False

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def listener_for(engine: Engine, data_dir: Path, signals: tuple[str, ...]) -> Listener:
    return PgListener(engine, signals) if uses_notify(engine) else LocalListener(socket_path(data_dir))
