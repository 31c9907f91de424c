"""The service catalogue (offerings) and members' placement groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, case, delete, func, insert, or_, select, update

from civicloud.domain import (
    GroupPolicy,
    Offering,
    PlacementGroup,
    Resources,
    ServiceClass,
    WorkloadState,
)
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo, bump_revision, join_ints, split_ints, split_words


class OfferingRepository(Repo):
    def add(self, offering: Offering) -> None:
        res = offering.resources
        self._conn.execute(insert(t.offerings).values(
            id=offering.id, name=offering.name, description=offering.description, vcpus=res.vcpus,
            memory_mib=res.memory_mib, disk_gib=res.disk_gib, gpus=res.gpus,
            service_class=offering.service_class.value, hds_activities=join_ints(offering.hds_activities),
            traits=",".join(sorted(offering.traits))))
        bump_revision(self._conn)

    def get(self, offering_id: str) -> Offering | None:
        row = self._one(select(t.offerings).where(t.offerings.c.id == offering_id))
        return _offering(row) if row else None

    def get_by_name(self, name: str) -> Offering | None:
        row = self._one(select(t.offerings).where(t.offerings.c.name == name))
        return _offering(row) if row else None

    def by_ref(self, ref: str) -> Offering | None:
        """The offering whose id is ``ref``, else the one so named: one query."""
        o = t.offerings.c
        row = self._one(select(t.offerings).where(or_(o.id == ref, o.name == ref))
                        .order_by(case((o.id == ref, 0), else_=1)).limit(1))
        return _offering(row) if row else None

    def list(self) -> list[Offering]:
        return [_offering(r) for r in self._conn.execute(select(t.offerings).order_by(t.offerings.c.name))]


def _offering(r: Row[Any]) -> Offering:
    return Offering(r.id, r.name, r.description, Resources(r.vcpus, r.memory_mib, r.disk_gib, r.gpus),
                    ServiceClass(r.service_class), split_ints(r.hds_activities), split_words(r.traits))


class PlacementGroupRepository(Repo):
    def add(self, group: PlacementGroup) -> None:
        self._conn.execute(insert(t.placement_groups).values(
            id=group.id, member_id=group.member_id, name=group.name, policy=group.policy.value,
            created_at=group.created_at))
        bump_revision(self._conn)

    def get(self, group_id: str) -> PlacementGroup | None:
        row = self._one(select(t.placement_groups).where(t.placement_groups.c.id == group_id))
        return _group(row) if row else None

    def get_by_name(self, member_id: str, name: str) -> PlacementGroup | None:
        row = self._one(select(t.placement_groups).where(and_(t.placement_groups.c.member_id == member_id,
                                                              t.placement_groups.c.name == name)))
        return _group(row) if row else None

    def list(self, member_id: str | None = None) -> list[PlacementGroup]:
        stmt = select(t.placement_groups).order_by(t.placement_groups.c.name)
        if member_id is not None:
            stmt = stmt.where(t.placement_groups.c.member_id == member_id)
        return [_group(r) for r in self._conn.execute(stmt)]

    def live_members(self, group_id: str) -> int:
        w = t.workloads.c
        return int(self._conn.execute(select(func.count()).select_from(t.workloads).where(and_(
            w.group_id == group_id, w.state != WorkloadState.DELETED.value))).scalar_one())

    def delete(self, group_id: str) -> bool:
        # Deleted workloads still name the group (a foreign key): let them go of it, or it could never be deleted.
        w = t.workloads.c
        self._conn.execute(update(t.workloads).where(and_(w.group_id == group_id,
                                                          w.state == WorkloadState.DELETED.value))
                           .values(group_id=None))
        deleted = self._conn.execute(delete(t.placement_groups).where(t.placement_groups.c.id == group_id)).rowcount
        bump_revision(self._conn)
        return deleted == 1


def _group(r: Row[Any]) -> PlacementGroup:
    return PlacementGroup(r.id, r.member_id, r.name, GroupPolicy(r.policy), r.created_at)
