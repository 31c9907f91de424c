"""The agent's spool: a local SQLite file where every report and usage sample waits until acknowledged.

Nothing the agent observes is sent straight from memory: it is first committed
here (WAL, synchronous=FULL), then sent, then deleted once the control plane
acknowledged it. An agent killed between the send and the delete sends it
again after its restart; the control plane stores a sample id once, and a
report is an observation it can apply twice. So nothing is lost and nothing
counted twice, whether the agent, the control plane or the network fails.

The spool also keeps the last desired state the control plane sent (with the
control plane out of reach, the agent still enforces eviction deadlines from
it), and the reboot each workload last had (so a reboot request is carried out
once, even across agent restarts).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SPOOL_FILE = "spool.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,          -- 'report' | 'sample'
    item_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_kind_seq ON outbox (kind, seq);
CREATE TABLE IF NOT EXISTS reboots (
    workload_id TEXT PRIMARY KEY,
    done_for TEXT NOT NULL       -- the reboot request (ISO instant) this workload has had
);
CREATE TABLE IF NOT EXISTS desired (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    body TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Spooled:
    seq: int
    item_id: str
    body: dict[str, Any]


class Spool:
    """One agent's spool file, in its state directory. Safe to share between the agent's threads."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / SPOOL_FILE
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a committed item survives a power cut, not just a kill
        self._db.executescript(_SCHEMA)

    def put(self, kind: str, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Append ``items`` (id, body) in one transaction: all of them are kept, or none."""
        if not items:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO outbox (kind, item_id, body) VALUES (?, ?, ?)",
                                     [(kind, item_id, json.dumps(body)) for item_id, body in items])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def peek(self, kind: str, limit: int) -> list[Spooled]:
        """The oldest ``limit`` items of ``kind``, in the order they were put."""
        with self._lock:
            rows = self._db.execute("SELECT seq, item_id, body FROM outbox WHERE kind = ? ORDER BY seq LIMIT ?",
                                    (kind, limit)).fetchall()
        return [Spooled(seq, item_id, json.loads(body)) for seq, item_id, body in rows]

    def ack(self, item_ids: Sequence[str]) -> None:
        """Forget items the control plane acknowledged."""
        if item_ids:
            with self._lock:
                self._db.executemany("DELETE FROM outbox WHERE item_id = ?", [(i,) for i in item_ids])

    def pending(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            return int(self._db.execute("SELECT count(*) FROM outbox WHERE kind = ?", (kind,)).fetchone()[0])

    def save_desired(self, body: list[dict[str, Any]], fetched_at: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO desired (one, body, fetched_at) VALUES (1, ?, ?) "
                             "ON CONFLICT (one) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
                             (json.dumps(body), fetched_at))

    def desired(self) -> list[dict[str, Any]]:
        """The last desired state the control plane sent, or [] if it never did."""
        with self._lock:
            row = self._db.execute("SELECT body FROM desired WHERE one = 1").fetchone()
        return json.loads(row[0]) if row else []

    def rebooted(self) -> dict[str, datetime]:
        """workload id -> the reboot request it has had (so a request is carried out once)."""
        with self._lock:
            rows = self._db.execute("SELECT workload_id, done_for FROM reboots").fetchall()
        return {w: datetime.fromisoformat(done) for w, done in rows}

    def set_rebooted(self, done: dict[str, datetime]) -> None:
        if done:
            with self._lock:
                self._db.executemany("INSERT INTO reboots (workload_id, done_for) VALUES (?, ?) ON CONFLICT "
                                     "(workload_id) DO UPDATE SET done_for = excluded.done_for",
                                     [(w, at.isoformat()) for w, at in done.items()])

    def close(self) -> None:
        with self._lock:
            self._db.close()
