"""Members and their agreements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, case, insert, or_, select

from civicloud.domain import Agreement, AgreementKind, Member, MemberCategory, Quota
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo, bump_revision


class MemberRepository(Repo):
    def add(self, member: Member) -> None:
        self._conn.execute(insert(t.members).values(
            id=member.id, name=member.name, siren=member.siren, siret=member.siret,
            category=member.category.value, created_at=member.created_at))
        bump_revision(self._conn)

    def get(self, member_id: str) -> Member | None:
        row = self._one(select(t.members).where(t.members.c.id == member_id))
        return _member(row) if row else None

    def get_by_name(self, name: str) -> Member | None:
        row = self._one(select(t.members).where(t.members.c.name == name))
        return _member(row) if row else None

    def by_ref(self, ref: str) -> Member | None:
        """The member whose id is ``ref``, else the one so named: one query."""
        m = t.members.c
        row = self._one(select(t.members).where(or_(m.id == ref, m.name == ref))
                        .order_by(case((m.id == ref, 0), else_=1)).limit(1))
        return _member(row) if row else None

    def list(self) -> list[Member]:
        return [_member(r) for r in self._conn.execute(select(t.members).order_by(t.members.c.name))]


def _member(r: Row[Any]) -> Member:
    return Member(r.id, r.name, r.siren, r.siret, MemberCategory(r.category), r.created_at)


class AgreementRepository(Repo):
    def add(self, agreement: Agreement) -> None:
        quotas = {cls: {k: v for k, v in vars(q).items() if v is not None} for cls, q in agreement.quotas.items()}
        self._conn.execute(insert(t.agreements).values(
            id=agreement.id, member_id=agreement.member_id, kind=agreement.kind.value,
            valid_from=agreement.valid_from, valid_to=agreement.valid_to, quotas=quotas or None))
        bump_revision(self._conn)

    def for_member(self, member_id: str) -> list[Agreement]:
        rows = self._conn.execute(select(t.agreements).where(t.agreements.c.member_id == member_id)
                                  .order_by(t.agreements.c.valid_from))
        return [_agreement(r) for r in rows]

    def all(self) -> list[Agreement]:
        return [_agreement(r) for r in self._conn.execute(select(t.agreements))]


def _agreement(r: Row[Any]) -> Agreement:
    quotas = {cls: Quota(**limits) for cls, limits in (r.quotas or {}).items()}
    return Agreement(r.id, r.member_id, AgreementKind(r.kind), r.valid_from, r.valid_to, quotas)
