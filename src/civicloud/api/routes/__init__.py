"""The API's routes, one module per resource; each route is an operation of ``api.operations``.

Routes reach the app's parts through the typed dependencies of ``api.deps`` (``Uow``, ``Uows``, ``AppSettings``,
``Granted``: the route's operation, authorized, to hand to its service), never through ``request.app.state``."""

from civicloud.api.routes import (
    agents,
    audit,
    auth,
    billing,
    groups,
    hosts,
    members,
    networks,
    offerings,
    sites,
    workloads,
)

ROUTERS = [members.router, sites.router, hosts.router, offerings.router, groups.router, networks.router,
           workloads.router, audit.router, billing.router, auth.router, auth.users, agents.router]

__all__ = ["ROUTERS"]
