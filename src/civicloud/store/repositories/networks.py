"""Tenant networks, security groups and ports.

The two allocations several replicas may race for — a network's VNI, a port's address (and MAC) — are inserted
with ``ON CONFLICT DO NOTHING`` against the unique indexes that guard them: an insert that finds its value taken
writes nothing and says so, and the service tries the next value. Nothing is locked, nothing is read twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from civicloud.domain.networks import Direction, Network, Port, Protocol, Rule, SecurityGroup, Subnet
from civicloud.store import tables as t
from civicloud.store.repositories._base import Repo

N, P, G, GR, PG = (t.networks.c, t.ports.c, t.security_groups.c, t.security_group_rules.c,
                   t.port_security_groups.c)


@dataclass(frozen=True)
class PlacedPort:
    port_id: str
    mac: str
    ip: IPv4Address
    network_id: str
    vni: int
    host_name: str
    site_id: str
    tunnel_ip: str | None
    security_groups: tuple[str, ...] = ()  # ids, in the order given


def _insert_new(conn: Any, table: Any, **values: Any) -> bool:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id on either database: a row that would break a unique index
    is not written. Whether it was written (told by the row returned: the driver's row count is not reliable
    for such an insert)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return conn.execute(stmt).first() is not None


class NetworkRepository(Repo):
    def add(self, network: Network) -> bool:
        """Write the network unless its VNI (or its name in its member) is taken: whether it was written."""
        return _insert_new(self._conn, t.networks, id=network.id, member_id=network.member_id, name=network.name,
                           vni=network.vni, subnets=[_subnet_json(s) for s in network.subnets],
                           internet_egress=int(network.internet_egress), created_at=network.created_at)

    def highest_vni(self) -> int | None:
        return self._conn.execute(select(func.max(N.vni))).scalar()

    def vnis(self) -> list[int]:
        """Every VNI in use, in order (read only when the range's end is reached, to find a gap)."""
        return [int(v) for v in self._conn.execute(select(N.vni).order_by(N.vni)).scalars()]

    def by_ref(self, ref: str, member_id: str | None) -> Network | None:
        """The network whose id is ``ref``, else the one so named — among ``member_id``'s only when given (another
        member's id then finds nothing, as a name would not: no id is told apart from a free string): one query."""
        cond = N.id == ref if member_id is None else and_(N.member_id == member_id, or_(N.id == ref, N.name == ref))
        row = self._one(select(t.networks).where(cond).order_by(case((N.id == ref, 0), else_=1)).limit(1))
        return _network(row) if row else None

    def delete(self, network_id: str) -> bool:
        # Released ports still name the network (a foreign key): they go with it, their history with the workload's.
        released = select(P.id).where(and_(P.network_id == network_id, P.released_at.is_not(None)))
        self._conn.execute(delete(t.port_security_groups).where(PG.port_id.in_(released)))
        self._conn.execute(delete(t.ports).where(and_(P.network_id == network_id, P.released_at.is_not(None))))
        return bool(self._conn.execute(delete(t.networks).where(N.id == network_id)).rowcount)

    def get_many(self, network_ids: Iterable[str]) -> list[Network]:
        """These networks (unknown ids left out): one query."""
        ids = sorted(set(network_ids))
        return [_network(r) for r in self._conn.execute(select(t.networks).where(N.id.in_(ids)))] if ids else []

    def named(self, member_id: str, name: str) -> Network | None:
        row = self._one(select(t.networks).where(and_(N.member_id == member_id, N.name == name)))
        return _network(row) if row else None

    def list(self, member_id: str | None) -> list[Network]:
        stmt = select(t.networks).order_by(N.member_id, N.name)
        if member_id is not None:
            stmt = stmt.where(N.member_id == member_id)
        return [_network(r) for r in self._conn.execute(stmt)]


class PortRepository(Repo):
    def add(self, port: Port, position: int) -> bool:
        """Write the port unless its address is held on its network (or its MAC anywhere): whether it was."""
        if not _insert_new(self._conn, t.ports, id=port.id, network_id=port.network_id, member_id=port.member_id,
                           workload_id=port.workload_id, position=position, mac=port.mac, ip=int(port.ip),
                           created_at=port.created_at):
            return False
        if port.security_groups:
            self._conn.execute(insert(t.port_security_groups), [
                {"port_id": port.id, "group_id": g, "position": i} for i, g in enumerate(port.security_groups)])
        return True

    def held(self, network_id: str) -> set[IPv4Address]:
        """The addresses the network's live ports hold."""
        rows = self._conn.execute(select(P.ip).where(and_(P.network_id == network_id, P.released_at.is_(None))))
        return {IPv4Address(int(v)) for v in rows.scalars()}

    def get(self, port_id: str) -> Port | None:
        found = self._read(P.id == port_id)
        return found[0] if found else None

    def of_workloads(self, workload_ids: Sequence[str]) -> dict[str, list[Port]]:
        """The live ports of each workload, in NIC order (their security groups not read: one query)."""
        out: dict[str, list[Port]] = {w: [] for w in workload_ids}
        if workload_ids:
            for port in self._read(and_(P.workload_id.in_(list(workload_ids)), P.released_at.is_(None)),
                                   with_groups=False):
                out[port.workload_id].append(port)
        return out

    def live_on(self, network_id: str) -> list[tuple[str, str, str]]:
        """(port id, workload id, workload name) of the network's live ports."""
        rows = self._conn.execute(
            select(P.id, P.workload_id, t.workloads.c.name).join(t.workloads, t.workloads.c.id == P.workload_id)
            .where(and_(P.network_id == network_id, P.released_at.is_(None))).order_by(P.ip))
        return [(r[0], r[1], r[2]) for r in rows]

    def groups_in_use(self, group_id: str) -> list[str]:
        """The live ports that name the security group."""
        rows = self._conn.execute(select(P.id).join(t.port_security_groups, PG.port_id == P.id)
                                  .where(and_(PG.group_id == group_id, P.released_at.is_(None))).order_by(P.id))
        return list(rows.scalars())

    def release(self, workload_id: str, now: datetime) -> int:
        """Let a deleted workload's ports go of their addresses and MACs."""
        return int(self._conn.execute(update(t.ports).where(and_(P.workload_id == workload_id,
                                                                 P.released_at.is_(None)))
                                      .values(released_at=now)).rowcount)

    def placed_on_networks_of_site(self, site_id: str) -> list[PlacedPort]:
        """Every live port of a placed workload on a network that has a port on one of the site's hosts, with
        its network's VNI and its host (name, site, tunnel address): what the site's hosts must hold, and
        where the other ends of their networks are. One query."""
        W, H = t.workloads.c, t.hosts.c
        placed = and_(P.released_at.is_(None), W.host_id.is_not(None), W.state != "deleted")
        here = (select(P.network_id).select_from(t.ports.join(t.workloads, W.id == P.workload_id)
                                                  .join(t.hosts, H.id == W.host_id))
                .where(and_(placed, H.site_id == site_id)))
        rows = self._conn.execute(
            select(P.id, P.mac, P.ip, P.network_id, N.vni, H.name, H.site_id, H.tunnel_ip)
            .select_from(t.ports.join(t.workloads, W.id == P.workload_id).join(t.hosts, H.id == W.host_id)
                         .join(t.networks, N.id == P.network_id))
            .where(and_(placed, P.network_id.in_(here))).order_by(N.vni, P.ip))
        found = [PlacedPort(r[0], r[1], IPv4Address(int(r[2])), r[3], int(r[4]), r[5], r[6], r[7]) for r in rows]
        if not found:
            return found
        groups: dict[str, list[str]] = {p.port_id: [] for p in found}
        for port_id, group_id in self._conn.execute(
                select(PG.port_id, PG.group_id).where(PG.port_id.in_(list(groups))).order_by(PG.port_id, PG.position)):
            groups[port_id].append(group_id)
        return [replace(p, security_groups=tuple(groups[p.port_id])) for p in found]

    def hosts_of(self, network_id: str) -> list[tuple[str, int]]:
        """(host id, live ports there) of each host where a placed workload has a port on the network."""
        W = t.workloads.c
        rows = self._conn.execute(
            select(W.host_id, func.count()).select_from(t.ports.join(t.workloads, W.id == P.workload_id))
            .where(and_(P.network_id == network_id, P.released_at.is_(None), W.host_id.is_not(None),
                        W.state != "deleted")).group_by(W.host_id).order_by(W.host_id))
        return [(str(r[0]), int(r[1])) for r in rows]

    def counts(self, network_ids: Sequence[str]) -> dict[str, int]:
        """How many live ports each network has."""
        out = dict.fromkeys(network_ids, 0)
        if network_ids:
            rows = self._conn.execute(select(P.network_id, func.count()).where(and_(
                P.network_id.in_(list(network_ids)), P.released_at.is_(None))).group_by(P.network_id))
            out.update({r[0]: int(r[1]) for r in rows})
        return out

    def _read(self, cond: Any, *, limit: int | None = None, offset: int = 0, with_groups: bool = True) -> list[Port]:
        stmt = select(t.ports).where(cond).order_by(P.workload_id, P.position)
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        rows = list(self._conn.execute(stmt))
        groups: dict[str, list[str]] = {r.id: [] for r in rows}
        if rows and with_groups:
            for port_id, group_id in self._conn.execute(
                    select(PG.port_id, PG.group_id).where(PG.port_id.in_(list(groups))).order_by(PG.position)):
                groups[port_id].append(group_id)
        return [Port(r.id, r.network_id, r.member_id, r.workload_id, r.mac, IPv4Address(int(r.ip)),
                     tuple(groups[r.id]), r.created_at, r.released_at) for r in rows]

    def list(self, *, member_id: str | None = None, network_id: str | None = None, limit: int = 1000,
             offset: int = 0) -> list[Port]:
        cond: list[Any] = [P.released_at.is_(None)]
        if member_id is not None:
            cond.append(P.member_id == member_id)
        if network_id is not None:
            cond.append(P.network_id == network_id)
        return self._read(and_(*cond), limit=limit, offset=offset)


class SecurityGroupRepository(Repo):
    def add(self, group: SecurityGroup) -> bool:
        """Write the group and its rules unless its member has a group of that name: whether it was written."""
        if not _insert_new(self._conn, t.security_groups, id=group.id, member_id=group.member_id, name=group.name,
                           description=group.description, created_at=group.created_at):
            return False
        self.add_rules(group.id, group.rules, 0)
        return True

    def id_named(self, member_id: str, name: str) -> str | None:
        """The id of the member's group so named (one query, its rules not read)."""
        return self._conn.execute(select(G.id).where(and_(G.member_id == member_id, G.name == name))).scalar()

    def add_rules(self, group_id: str, rules: Iterable[Rule], first_position: int) -> None:
        rows = [{"id": r.id, "group_id": group_id, "direction": r.direction.value, "protocol": r.protocol.value,
                 "port_min": r.port_min, "port_max": r.port_max,
                 "remote_cidr": str(r.remote_cidr) if r.remote_cidr else None,
                 "remote_group_id": r.remote_group_id, "position": first_position + i} for i, r in enumerate(rules)]
        if rows:
            self._conn.execute(insert(t.security_group_rules), rows)

    def lock(self, group_id: str) -> None:
        """Hold the group's row until the transaction ends (PostgreSQL; SQLite's writers queue at BEGIN anyway)."""
        self._conn.execute(update(t.security_groups).where(G.id == group_id).values(name=G.name))

    def rule_count(self, group_id: str) -> int:
        return int(self._conn.execute(select(func.count()).where(GR.group_id == group_id)).scalar_one())

    def next_position(self, group_id: str) -> int:
        found = self._conn.execute(select(func.max(GR.position)).where(GR.group_id == group_id)).scalar()
        return 0 if found is None else int(found) + 1

    def delete_rule(self, group_id: str, rule_id: str) -> bool:
        return bool(self._conn.execute(delete(t.security_group_rules).where(
            and_(GR.group_id == group_id, GR.id == rule_id))).rowcount)

    def get(self, group_id: str) -> SecurityGroup | None:
        found = self._read(G.id == group_id)
        return found[0] if found else None

    def get_many(self, group_ids: Iterable[str]) -> list[SecurityGroup]:
        """These groups with their rules (unknown ids left out): two queries."""
        ids = sorted(set(group_ids))
        return self._read(G.id.in_(ids)) if ids else []

    def by_ref(self, ref: str, member_id: str | None) -> SecurityGroup | None:
        cond = G.id == ref if member_id is None else and_(G.member_id == member_id, or_(G.id == ref, G.name == ref))
        found = self._read(cond, order=case((G.id == ref, 0), else_=1))
        return found[0] if found else None

    def referenced_by(self, group_id: str) -> list[str]:
        """The other groups whose rules name this one as their remote group."""
        rows = self._conn.execute(select(G.name).join(t.security_group_rules, GR.group_id == G.id)
                                  .where(and_(GR.remote_group_id == group_id, GR.group_id != group_id))
                                  .distinct().order_by(G.name))
        return list(rows.scalars())

    def delete(self, group_id: str) -> bool:
        self._conn.execute(delete(t.security_group_rules).where(GR.group_id == group_id))
        released = select(P.id).where(P.released_at.is_not(None))
        self._conn.execute(delete(t.port_security_groups).where(and_(PG.group_id == group_id,
                                                                     PG.port_id.in_(released))))
        return bool(self._conn.execute(delete(t.security_groups).where(G.id == group_id)).rowcount)

    def _read(self, cond: Any, order: Any = None) -> list[SecurityGroup]:
        stmt = select(t.security_groups)
        if cond is not None:
            stmt = stmt.where(cond)
        stmt = stmt.order_by(*(o for o in (order, G.member_id, G.name) if o is not None))
        rows = list(self._conn.execute(stmt))
        if order is not None:
            rows = rows[:1]
        rules: dict[str, list[Rule]] = {r.id: [] for r in rows}
        if rows:
            for r in self._conn.execute(select(t.security_group_rules).where(GR.group_id.in_(list(rules)))
                                        .order_by(GR.group_id, GR.position)):
                rules[r.group_id].append(_rule(r))
        return [SecurityGroup(r.id, r.member_id, r.name, r.description, tuple(rules[r.id]), r.created_at)
                for r in rows]

    def list(self, member_id: str | None) -> list[SecurityGroup]:
        return self._read(G.member_id == member_id if member_id is not None else None)


def _subnet_json(s: Subnet) -> dict[str, Any]:
    return {"cidr": str(s.cidr), "gateway": str(s.gateway), "dns": [str(d) for d in s.dns]}


def _network(r: Row[Any]) -> Network:
    subnets = tuple(Subnet(IPv4Network(s["cidr"]), IPv4Address(s["gateway"]), tuple(IPv4Address(d) for d in s["dns"]))
                    for s in r.subnets)
    return Network(r.id, r.member_id, r.name, int(r.vni), subnets, bool(r.internet_egress), r.created_at)


def _rule(r: Row[Any]) -> Rule:
    return Rule(r.id, Direction(r.direction), Protocol(r.protocol), r.port_min, r.port_max,
                IPv4Network(r.remote_cidr) if r.remote_cidr else None, r.remote_group_id)
