"""One plugin per module. Importing this package registers them all."""

from civicloud.scheduler.plugins import (  # noqa: F401
    affinity,
    certification,
    freshness,
    low_carbon,
    offer_open,
    owner_reserve,
    pack,
    proximity,
    quota,
    reclaim,
    residency,
    resources_fit,
    service_class,
    spread,
)
