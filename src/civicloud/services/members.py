"""Members and their agreements."""

from __future__ import annotations

from civicloud.domain import (
    Agreement,
    Member,
    Quota,
    check_agreement_dates,
    validate_siren,
    validate_siret,
)
from civicloud.errors import Conflict, NotFound
from civicloud.services.access import Caller, operation, scope_of
from civicloud.store import UnitOfWork
from civicloud.wire import AgreementCreate, MemberCreate


@operation("members.create")
def create_member(uow: UnitOfWork, caller: Caller, cmd: MemberCreate) -> Member:
    siren = validate_siren(cmd.siren)
    siret = validate_siret(cmd.siret, siren) if cmd.siret else None
    member = Member(uow.new_id(), cmd.name, siren, siret, cmd.category, uow.clock())
    with uow:
        if uow.members.get_by_name(cmd.name) is not None:
            raise Conflict(f"a member named {cmd.name!r} already exists; choose another name",
                           code="civicloud.member.name_taken")
        uow.members.add(member)
        uow.commit()
    return member


@operation("members.get")
def get_member(uow: UnitOfWork, caller: Caller, member_id: str) -> Member:
    with uow:
        return require_member(uow, member_id)


def require_member(uow: UnitOfWork, ref: str) -> Member:
    """A member by id, or by its exact name (what people type in the CLI)."""
    member = uow.members.by_ref(ref)
    if member is None:
        raise NotFound.of("member", ref)
    return member


@operation("members.list")
def list_members(uow: UnitOfWork, caller: Caller) -> list[Member]:
    """Every member for the federation's staff; a member's staff see their own."""
    scope = scope_of(caller)
    with uow:
        return [m for m in uow.members.list() if scope is None or m.id == scope]


@operation("agreements.create")
def add_agreement(uow: UnitOfWork, caller: Caller, member_id: str, cmd: AgreementCreate) -> Agreement:
    check_agreement_dates(cmd.valid_from, cmd.valid_to)
    with uow:
        member = require_member(uow, member_id)
        quotas = {cls.value: Quota(q.vcpus, q.memory_mib, q.disk_gib, q.workloads) for cls, q in cmd.quotas.items()}
        agreement = Agreement(uow.new_id(), member.id, cmd.kind, cmd.valid_from, cmd.valid_to, quotas)
        uow.agreements.add(agreement)
        uow.commit()
    return agreement


@operation("agreements.list")
def list_agreements(uow: UnitOfWork, caller: Caller, member_id: str) -> list[Agreement]:
    with uow:
        member = require_member(uow, member_id)
        return uow.agreements.for_member(member.id)
