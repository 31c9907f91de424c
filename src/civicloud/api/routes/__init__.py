"""The API's routes, one module per resource; each route's rule is in ``services.access``."""

from civicloud.api.routes import audit, billing, groups, hosts, members, offerings, sites, workloads

ROUTERS = [members.router, sites.router, hosts.router, offerings.router, groups.router, workloads.router,
           audit.router, billing.router]

__all__ = ["ROUTERS"]
