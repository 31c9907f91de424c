"""Placement groups: a member's workloads that must share a host, or must not share a host or a site."""

from __future__ import annotations

from civicloud.domain import PlacementGroup
from civicloud.errors import Conflict, NotFound
from civicloud.services.access import Caller, operation, own_member, require_own
from civicloud.services.members import require_member
from civicloud.store import UnitOfWork
from civicloud.wire import PlacementGroupCreate


@operation("groups.create")
def create_group(uow: UnitOfWork, caller: Caller, cmd: PlacementGroupCreate) -> PlacementGroup:
    with uow:
        member = require_member(uow, cmd.member_id)
        require_own(caller, member.id, cmd.member_id)
        if uow.groups.get_by_name(member.id, cmd.name) is not None:
            raise Conflict(f"{member.name} already has a placement group named {cmd.name!r}",
                           code="civicloud.placement_group.name_taken")
        group = PlacementGroup(uow.new_id(), member.id, cmd.name, cmd.policy, uow.clock())
        uow.groups.add(group)
        uow.commit()
    return group


def require_group(uow: UnitOfWork, ref: str, member_id: str | None = None) -> PlacementGroup:
    group = uow.groups.get(ref)
    if group is None and member_id is not None:
        group = uow.groups.get_by_name(member_id, ref)
    if group is None:
        raise NotFound.of("placement_group", ref)
    return group


@operation("groups.get")
def get_group(uow: UnitOfWork, caller: Caller, group_id: str) -> PlacementGroup:
    with uow:
        return require_group(uow, group_id)


@operation("groups.list")
def list_groups(uow: UnitOfWork, caller: Caller, member: str | None = None) -> list[PlacementGroup]:
    """The groups the caller may see (its member's only, for a member's staff), of ``member`` if given."""
    member = own_member(uow, caller, member)
    with uow:
        member_id = require_member(uow, member).id if member is not None else None
        return uow.groups.list(member_id)


@operation("groups.delete")
def delete_group(uow: UnitOfWork, caller: Caller, group_id: str) -> None:
    with uow:
        group = require_group(uow, group_id)
        live = uow.groups.live_members(group.id)
        if live:
            raise Conflict(f"placement group {group.name!r} still holds {live} live workload(s); delete them first",
                           code="civicloud.placement_group.in_use")
        uow.groups.delete(group.id)
        uow.commit()
