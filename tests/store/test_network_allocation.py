"""Several replicas giving VNIs and addresses at once on one PostgreSQL never give the same one twice.

Each "replica" is a thread with its own connection running the services as the API does: new networks
(each takes the next VNI), and new workloads on one network (each port takes the lowest free address). Under
READ COMMITTED two transactions read the same highest VNI or the same free address; the unique index makes
the second insert find it taken (ON CONFLICT DO NOTHING), and the service tries the next. SQLite takes its
write lock at BEGIN, so the race exists on PostgreSQL only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from civicloud.clock import system_clock as utcnow
from civicloud.domain import Member, MemberCategory, Offering, Resources, ServiceClass
from civicloud.domain.networks import MAX_RULES, Direction, Protocol
from civicloud.errors import Conflict
from civicloud.services import networks, workloads
from civicloud.store import UnitOfWork
from civicloud.wire import NetworkCreate, NicIn, RuleIn, SecurityGroupCreate, SubnetIn, WorkloadCreate

from civicloud_support import OPERATOR, SIREN_BOBIGNY
from store_scene import new_id

Uows = Callable[[], UnitOfWork]
THREADS, EACH = 6, 5

only_postgres = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)


def _member_and_offering(uow_factory: Uows) -> tuple[str, str]:
    with uow_factory() as uow:
        member = Member(new_id(), "Bobigny", SIREN_BOBIGNY, None, MemberCategory.COMMUNE, utcnow())
        uow.members.add(member)
        offering = Offering(new_id(), "vm.small", "", Resources(1, 512, 1), ServiceClass.HARVEST)
        uow.offerings.add(offering)
        uow.commit()
    return member.id, offering.id


def _race(work: Callable[[int], object]) -> list[object]:
    start = threading.Barrier(THREADS)

    def run(i: int) -> list[object]:
        start.wait()
        return [work(i * EACH + k) for k in range(EACH)]

    with ThreadPoolExecutor(THREADS) as pool:
        return [r for batch in pool.map(run, range(THREADS)) for r in batch]


@only_postgres
def test_concurrent_networks_get_distinct_vnis(uow_factory: Uows) -> None:
    member_id, _ = _member_and_offering(uow_factory)
    made = _race(lambda i: networks.create_network(uow_factory(), OPERATOR, NetworkCreate(
        member_id=member_id, name=f"net-{i}", subnets=[SubnetIn(cidr="10.20.0.0/24")])))
    vnis = [v.network.vni for v in made]  # type: ignore[attr-defined]
    assert len(set(vnis)) == THREADS * EACH
    with uow_factory() as uow:
        stored = uow.networks.list(member_id)
        assert sorted(n.vni for n in stored) == sorted(vnis)
        # One default security group, however many networks raced to make it.
        assert [g.name for g in uow.security_groups.list(member_id)] == ["default"]


@only_postgres
def test_concurrent_workloads_get_distinct_addresses_and_macs(uow_factory: Uows) -> None:
    member_id, offering_id = _member_and_offering(uow_factory)
    made = _race(lambda i: workloads.create_workload(uow_factory(), OPERATOR, WorkloadCreate(
        member_id=member_id, offering_id=offering_id, name=f"w{i}", networks=[NicIn(network="default")])))
    assert len(made) == THREADS * EACH
    with uow_factory() as uow:
        ports = uow.ports.list(member_id=member_id)
        nets = uow.networks.list(member_id)
    assert [n.name for n in nets] == ["default"]  # made once, though every thread asked for it first
    assert len(ports) == THREADS * EACH
    addresses = sorted(p.ip for p in ports)
    assert len(set(addresses)) == len(addresses) and len({p.mac for p in ports}) == len(ports)
    assert all(nets[0].subnets[0].holds(a) for a in addresses)


@only_postgres
def test_nics_named_in_opposite_orders_do_not_deadlock(uow_factory: Uows) -> None:
    """Half the requests ask for [lan, dmz], half for [dmz, lan]: addresses are taken network by network in one
    order for all, so no two requests wait for each other; each workload keeps its NICs in the order asked."""
    member_id, offering_id = _member_and_offering(uow_factory)
    for name in ("lan", "dmz"):
        networks.create_network(uow_factory(), OPERATOR, NetworkCreate(member_id=member_id, name=name,
                                                                        subnets=[SubnetIn(cidr="10.20.0.0/24")]))
    order = {0: ["lan", "dmz"], 1: ["dmz", "lan"]}
    made = _race(lambda i: workloads.create_workload(uow_factory(), OPERATOR, WorkloadCreate(
        member_id=member_id, offering_id=offering_id, name=f"w{i}",
        networks=[NicIn(network=n) for n in order[i % 2]])))
    assert len(made) == THREADS * EACH
    with uow_factory() as uow:
        by_name = {n.name: n.id for n in uow.networks.list(member_id)}
        ports = uow.ports.of_workloads([w.id for w in made])  # type: ignore[attr-defined]
        names = {w.id: int(w.name[1:]) for w in made}  # type: ignore[attr-defined]
    for workload_id, nics in ports.items():
        assert [p.network_id for p in nics] == [by_name[n] for n in order[names[workload_id] % 2]]


@only_postgres
def test_rules_added_at_once_keep_the_groups_limit(uow_factory: Uows) -> None:
    """A group two rules short of its limit, six rules added at once: at most two land, each in its own place;
    the others are refused with a conflict (retry), never a 500 and never a 101st rule."""
    member_id, _ = _member_and_offering(uow_factory)
    rules = [RuleIn(direction=Direction.INGRESS, protocol=Protocol.TCP, port_min=1000 + i) for i in range(98)]
    group = networks.create_security_group(uow_factory(), OPERATOR, SecurityGroupCreate(
        member_id=member_id, name="web", rules=rules))
    start = threading.Barrier(THREADS)

    def add(i: int) -> str:
        start.wait()
        try:
            networks.add_rule(uow_factory(), OPERATOR, group.id, RuleIn(direction=Direction.INGRESS,
                                                                       protocol=Protocol.UDP, port_min=2000 + i))
        except Conflict:
            return "refused"
        return "added"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(add, range(THREADS)))
    with uow_factory() as uow:
        stored = uow.security_groups.get(group.id)
    assert stored is not None and len(stored.rules) <= MAX_RULES
    assert len(stored.rules) == 98 + outcomes.count("added") and outcomes.count("added") >= 1
