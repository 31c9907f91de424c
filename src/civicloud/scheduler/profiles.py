"""Profiles per service class: which filters run in which order, which scorers with what weight."""

from __future__ import annotations

from collections.abc import Mapping

from civicloud.domain.catalogue import ServiceClass
from civicloud.errors import InvalidInput
from civicloud.scheduler import plugins  # noqa: F401  # registers the plugins
from civicloud.scheduler.framework import Profile

# Filter order: cheapest and most often decisive first, so later ones see fewer hosts.
# - quota is one check per request: when it fails, no host is even looked at;
# - reclaim is nothing unless the workload is being evicted, then one compare per host;
# - host_reporting is one boolean per host;
# - resources_fit, offer_open and service_class are a few array compares, and in a
#   busy region they reject most hosts (full, or their calendar closed);
# - owner_reserve is as cheap but rarely decisive once the lent share is respected;
# - certification, residency and affinity cost nothing when the request asks for
#   nothing, and look up per-site data when it does: last.
FILTER_ORDER = ("quota", "reclaim", "host_reporting", "resources_fit", "offer_open", "service_class", "owner_reserve",
                "certification", "residency", "affinity")

HARVEST = Profile.build("harvest", FILTER_ORDER, [("pack", 3.0), ("low_carbon", 1.0), ("proximity", 1.0)])
GUARANTEED = Profile.build("guaranteed", FILTER_ORDER, [("spread", 3.0), ("low_carbon", 1.0), ("proximity", 1.0)])
PROFILES = {ServiceClass.HARVEST: HARVEST, ServiceClass.GUARANTEED: GUARANTEED}


def profile_for(service_class: ServiceClass) -> Profile:
    return PROFILES[service_class]


def profiles_with(weights: Mapping[ServiceClass, Mapping[str, float]]) -> dict[ServiceClass, Profile]:
    """The built-in profiles, with the scorers and weights of ``weights`` in place of a class's own (the filters
    and their order stay: they are rules, not preferences). Raises InvalidInput for an unknown scorer or a
    weight outside (0, 100]."""
    profiles = dict(PROFILES)
    for service_class, scorers in weights.items():
        if not scorers:
            raise InvalidInput(f"the {service_class.value} profile needs at least one scorer and its weight, e.g. "
                               '{"pack": 3}', code="civicloud.scheduler.no_scorer")
        profiles[service_class] = Profile.build(service_class.value, FILTER_ORDER, sorted(scorers.items()))
    return profiles
