"""What every repository shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select, update

from civicloud.store import tables as t

CATALOGUE = "catalogue"  # members, agreements, sites, certifications, offers, offerings, placement groups


class Repo:
    """Bound to the unit of work's connection: everything a service does in one unit commits together."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _one(self, stmt: Any) -> Row[*tuple[Any, ...]] | None:  # a row of any width
        return self._conn.execute(stmt).first()


def bump_revision(conn: Connection, name: str = CATALOGUE) -> None:
    """Move a change counter, in the writer's transaction (see ``tables.revisions``)."""
    conn.execute(update(t.revisions).where(t.revisions.c.name == name).values(value=t.revisions.c.value + 1))


class RevisionRepository(Repo):
    def get(self, name: str = CATALOGUE) -> int | None:
        """The counter's value; None where it is missing (a reader then trusts no cache)."""
        row = self._one(select(t.revisions.c.value).where(t.revisions.c.name == name))
        return int(row.value) if row else None


def join_ints(values: frozenset[int] | set[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


def split_ints(text: str) -> frozenset[int]:
    return frozenset(int(v) for v in text.split(",") if v)


def split_words(text: str) -> frozenset[str]:
    return frozenset(v for v in text.split(",") if v)
