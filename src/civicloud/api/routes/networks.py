"""A member's tenant networks, its workloads' ports and its security groups (/api/v1/networks, /ports,
/security-groups)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status

from civicloud.api import views
from civicloud.api.deps import Granted, Uow, require_operator
from civicloud.api.errors import ERROR_RESPONSES
from civicloud.api.routing import LeanRoute
from civicloud.services import networks
from civicloud.wire import (
    NetworkCreate,
    NetworkOut,
    PortOut,
    RuleIn,
    SecurityGroupCreate,
    SecurityGroupOut,
)
from civicloud.wire.common import Id, Ref

router = APIRouter(route_class=LeanRoute, dependencies=[Depends(require_operator)], responses=ERROR_RESPONSES)


@router.post("/networks", status_code=status.HTTP_201_CREATED, tags=["networks"])
def create_network(body: NetworkCreate, uow: Uow, grant: Granted) -> NetworkOut:
    """A new network of the member: its own segment (a VNI of its own), whatever ranges other members use."""
    return views.network_out(networks.create_network(uow, grant, body))


@router.get("/networks", tags=["networks"])
def list_networks(uow: Uow, grant: Granted, member_id: Ref | None = None) -> list[NetworkOut]:
    return [views.network_out(n) for n in networks.list_networks(uow, grant, member_id)]


@router.get("/networks/{network_id}", tags=["networks"])
def get_network(network_id: Ref, uow: Uow, grant: Granted) -> NetworkOut:
    return views.network_out(networks.get_network(uow, grant, network_id), grant.principal)


@router.delete("/networks/{network_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["networks"])
def delete_network(network_id: Ref, uow: Uow, grant: Granted) -> None:
    """Refused (409 civicloud.network.in_use, naming its ports) while a live workload has a port on it."""
    networks.delete_network(uow, grant, network_id)


@router.get("/ports", tags=["networks"])
def list_ports(uow: Uow, grant: Granted, member_id: Ref | None = None, network_id: Ref | None = None,
               limit: int = Query(default=1000, ge=1, le=1000),
               offset: int = Query(default=0, ge=0, le=10_000_000)) -> list[PortOut]:
    return [views.port_out(p) for p in networks.list_ports(uow, grant, member_id, network_id, limit, offset)]


@router.get("/ports/{port_id}", tags=["networks"])
def get_port(port_id: Ref, uow: Uow, grant: Granted) -> PortOut:
    return views.port_out(networks.get_port(uow, grant, port_id))


@router.post("/security-groups", status_code=status.HTTP_201_CREATED, tags=["networks"])
def create_security_group(body: SecurityGroupCreate, uow: Uow, grant: Granted) -> SecurityGroupOut:
    return views.security_group_out(networks.create_security_group(uow, grant, body))


@router.get("/security-groups", tags=["networks"])
def list_security_groups(uow: Uow, grant: Granted, member_id: Ref | None = None) -> list[SecurityGroupOut]:
    return [views.security_group_out(g) for g in networks.list_security_groups(uow, grant, member_id)]


@router.get("/security-groups/{security_group_id}", tags=["networks"])
def get_security_group(security_group_id: Ref, uow: Uow, grant: Granted) -> SecurityGroupOut:
    return views.security_group_out(networks.get_security_group(uow, grant, security_group_id))


@router.delete("/security-groups/{security_group_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["networks"])
def delete_security_group(security_group_id: Ref, uow: Uow, grant: Granted) -> None:
    networks.delete_security_group(uow, grant, security_group_id)


@router.post("/security-groups/{security_group_id}/rules", status_code=status.HTTP_201_CREATED, tags=["networks"])
def add_rule(security_group_id: Ref, body: RuleIn, uow: Uow, grant: Granted) -> SecurityGroupOut:
    return views.security_group_out(networks.add_rule(uow, grant, security_group_id, body))


@router.delete("/security-groups/{security_group_id}/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT,
               tags=["networks"])
def delete_rule(security_group_id: Ref, rule_id: Id, uow: Uow, grant: Granted) -> None:
    networks.delete_rule(uow, grant, security_group_id, rule_id)
