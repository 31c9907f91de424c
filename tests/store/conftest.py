"""A small scene written straight through the repositories, for the store tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicloud.domain import Member, MemberCategory, Offer, Offering, Resources, ServiceClass, Site
from civicloud.store import UnitOfWork

from civicloud_support import SIREN_BOBIGNY, SIREN_DRANCY
from store_scene import HOST_TOTAL, NOW, SMALL, Scene, new_id


@pytest.fixture
def scene(uow_factory: Callable[[], UnitOfWork]) -> Scene:
    """
        member Drancy (commune) ── site drancy-mairie (INSEE 93029), offer 50 % (default share, no window)
                                      ├─ host drancy-h1  16 vCPU  65536 MiB  1000 GiB   generation 0, nothing allocated
                                      └─ host drancy-h2  16 vCPU  65536 MiB  1000 GiB   generation 0, nothing allocated
        member Bobigny (commune, borrower, no site)
        offering vm-small: 2 vCPU, 4096 MiB, 20 GiB, harvest
    """
    drancy = Member(new_id(), "Drancy", SIREN_DRANCY, None, MemberCategory.COMMUNE, NOW)
    bobigny = Member(new_id(), "Bobigny", SIREN_BOBIGNY, None, MemberCategory.COMMUNE, NOW)
    site = Site(new_id(), drancy.id, "drancy-mairie", "93029", "Europe/Paris", (), NOW)
    small = Offering(new_id(), "vm-small", "", SMALL, ServiceClass.HARVEST)
    with uow_factory() as uow:
        uow.members.add(drancy)
        uow.members.add(bobigny)
        uow.sites.add(site, cert_ids=[])
        uow.offers.set(new_id(), site.id, None, Offer(default_percent=50.0), NOW)
        h1 = uow.hosts.report(site.id, "drancy-h1", "test:///default", HOST_TOTAL, Resources(), NOW, new_id())
        h2 = uow.hosts.report(site.id, "drancy-h2", "test:///default", HOST_TOTAL, Resources(), NOW, new_id())
        uow.offerings.add(small)
        uow.commit()
    return Scene(drancy.id, bobigny.id, site.id, h1, h2, small.id)
