"""What every repository shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row


class Repo:
    """Bound to the unit of work's connection: everything a service does in one unit commits together."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _one(self, stmt: Any) -> Row[*tuple[Any, ...]] | None:  # a row of any width
        return self._conn.execute(stmt).first()


def join_ints(values: frozenset[int] | set[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


def split_ints(text: str) -> frozenset[int]:
    return frozenset(int(v) for v in text.split(",") if v)


def split_words(text: str) -> frozenset[str]:
    return frozenset(v for v in text.split(",") if v)
