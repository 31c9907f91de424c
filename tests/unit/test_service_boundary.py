"""The services are the boundary: each operation is declared by one service function, which authorizes its
caller and scopes what it lists whichever front calls it (the API, the portal to come, the simulator)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import civicloud.services
from civicloud.api.operations import ROUTE_OPERATIONS
from civicloud.api.routes import ROUTERS
from civicloud.clock import FrozenClock, SequentialIds
from civicloud.domain.identity import Principal, Role
from civicloud.errors import Forbidden, NotFound
from civicloud.services import access, catalogue, groups, members, sites, workloads
from civicloud.services.access import DECLARED, OPERATIONS, Grant, operation
from civicloud.store import SqlUnitOfWork, make_engine, upgrade
from civicloud.wire import MemberCreate, OfferingCreate, PlacementGroupCreate, SiteCreate, WorkloadCreate

OPERATOR = Principal("user:operator", frozenset({Role.FEDERATION_ADMIN}))
AUDITOR = Principal("user:auditor", frozenset({Role.AUDITOR}))


def _all_services() -> None:
    for info in pkgutil.walk_packages(civicloud.services.__path__, "civicloud.services."):
        importlib.import_module(info.name)


def test_every_operation_is_declared_by_one_service_function() -> None:
    _all_services()
    assert set(DECLARED) == set(OPERATIONS)
    for name, fn in DECLARED.items():
        assert fn.__module__.startswith("civicloud.services."), (name, fn.__module__)
        assert fn.operation == name  # type: ignore[attr-defined]


def test_every_route_calls_the_service_that_declares_its_operation() -> None:
    """A route's operation is authorized up front by the guard; the route then hands its grant to the one
    service function declaring that operation — not to another, which would check another rule."""
    _all_services()
    seen = set()
    for route in (r for router in ROUTERS for r in router.routes):
        for method in getattr(route, "methods", ()) or ():
            op = ROUTE_OPERATIONS.get((method, route.path_format))  # type: ignore[attr-defined]
            if op is None:
                continue
            seen.add(op)
            called = inspect.unwrap(route.endpoint).__code__.co_names  # the route, not LeanRoute's wrapper
            assert DECLARED[op].__name__ in called, f"{method} {route.path_format} does not call " \
                                                    f"{DECLARED[op].__qualname__}"  # type: ignore[attr-defined]
    assert seen == set(ROUTE_OPERATIONS.values())


def test_a_declaration_without_the_caller_or_the_object_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match="caller"):
        operation("workloads.samples")(lambda uow, workload_id: None)
    with pytest.raises(TypeError, match="workload_id"):
        operation("workloads.samples")(lambda uow, caller, ref: None)
    with pytest.raises(TypeError, match="declared twice"):
        operation("workloads.samples")(lambda uow, caller, workload_id: None)
    with pytest.raises(KeyError):
        operation("workloads.teleport")


@pytest.fixture
def region(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'boundary.db'}")
    upgrade(engine)
    clock, ids = FrozenClock(datetime(2026, 12, 3, 9, tzinfo=UTC)), SequentialIds()

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock, ids)

    a = members.create_member(uow(), OPERATOR, MemberCreate(name="Drancy", siren="219300290", category="commune"))
    b = members.create_member(uow(), OPERATOR, MemberCreate(name="Bobigny", siren="219300084", category="commune"))
    catalogue.create_offering(uow(), OPERATOR, OfferingCreate(name="vm-s", vcpus=1, memory_mib=1024, disk_gib=5))
    for m in (a, b):
        sites.create_site(uow(), OPERATOR, SiteCreate(member_id=m.id, name="mairie", insee_code="93029"))
        groups.create_group(uow(), OPERATOR, PlacementGroupCreate(member_id=m.id, name="erp", policy="different_host"))
    w_a = workloads.create_workload(uow(), OPERATOR, WorkloadCreate(member_id=a.id, offering_id="vm-s", name="a1"))
    w_b = workloads.create_workload(uow(), OPERATOR, WorkloadCreate(member_id=b.id, offering_id="vm-s", name="b1"))
    user_a = Principal("user:it@drancy", frozenset({Role.MEMBER_ADMIN}), a.id)
    return uow, a, b, w_a, w_b, user_a


def test_a_service_refuses_another_members_object_as_if_it_did_not_exist(region) -> None:  # type: ignore[no-untyped-def]
    uow, _a, b, w_a, w_b, user_a = region
    assert workloads.get_workload(uow(), user_a, w_a.id).id == w_a.id
    for call in (lambda: workloads.get_workload(uow(), user_a, w_b.id),
                 lambda: workloads.delete_workload(uow(), user_a, w_b.id),
                 lambda: workloads.list_workloads(uow(), user_a, member=b.id),
                 lambda: sites.get_site(uow(), user_a, sites.list_sites(uow(), OPERATOR, b.id)[0].id),
                 lambda: workloads.create_workload(uow(), user_a, WorkloadCreate(member_id=b.id, offering_id="vm-s",
                                                                                 name="sneaky"))):
        with pytest.raises(NotFound):
            call()
    with uow() as u:  # nothing of Bobigny's was touched
        assert u.workloads.get(w_b.id) == w_b
        assert not u.workloads.name_taken(b.id, "sneaky")


def test_a_service_refuses_a_caller_without_the_capability(region) -> None:  # type: ignore[no-untyped-def]
    uow, a, _b, w_a, _w_b, _user_a = region
    with pytest.raises(Forbidden):
        workloads.stop_workload(uow(), AUDITOR, w_a.id)
    with pytest.raises(Forbidden):
        members.create_member(uow(), Principal("user:it@drancy", frozenset({Role.MEMBER_ADMIN}), a.id),
                              MemberCreate(name="Pantin", siren="219300555", category="commune"))
    assert workloads.get_workload(uow(), AUDITOR, w_a.id).id == w_a.id  # reading is the auditor's


def test_lists_are_scoped_by_the_service(region) -> None:  # type: ignore[no-untyped-def]
    uow, a, b, w_a, _w_b, user_a = region
    assert [w.id for w in workloads.list_workloads(uow(), user_a)] == [w_a.id]
    assert {m.id for m in members.list_members(uow(), user_a)} == {a.id}
    assert {s.member_id for s in sites.list_sites(uow(), user_a)} == {a.id}
    assert {g.member_id for g in groups.list_groups(uow(), user_a)} == {a.id}
    assert {m.id for m in members.list_members(uow(), AUDITOR)} == {a.id, b.id}
    assert len(workloads.list_workloads(uow(), OPERATOR)) == 2


def test_only_a_grant_minted_for_this_operation_and_object_spares_the_check(region) -> None:  # type: ignore[no-untyped-def]
    uow, _a, _b, w_a, w_b, user_a = region
    forged = Grant(user_a, "workloads.get", w_b.id)  # not minted by access.authorize
    with pytest.raises(NotFound):
        workloads.get_workload(uow(), forged, w_b.id)
    own = access.authorize(uow, user_a, "workloads.get", w_a.id)
    assert workloads.get_workload(uow(), own, w_a.id).id == w_a.id
    with pytest.raises(NotFound):  # the grant names another workload: checked again, refused
        workloads.get_workload(uow(), own, w_b.id)
    with pytest.raises(NotFound):  # a grant for another operation: checked again, refused
        workloads.delete_workload(uow(), own, w_b.id)
    with pytest.raises(TypeError):
        workloads.get_workload(uow(), "user:operator", w_a.id)  # type: ignore[arg-type]
