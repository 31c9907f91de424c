"""Fixtures over a real socket: libvirt test hypervisors and a threaded control plane (agent, CLI, e2e tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from civicloud.cli.demo import DemoHost, free_port, node_xml
from civicloud.cli.serve import ThreadedServer
from civicloud.client import ApiClient
from civicloud.settings import Settings
from civicloud.wire import MemberCreate, OfferingCreate, OfferSet, SiteCreate

if os.environ.get("CI") == "true":
    import libvirt  # noqa: F401  # required in CI: a missing binding fails the run instead of skipping
else:
    pytest.importorskip("libvirt", reason="libvirt-python is not installed; 'make test' installs it")


@pytest.fixture
def node_file(tmp_path: Path):
    """Write a libvirt test-driver node file; each opened connection gets a private hypervisor."""

    def make(name: str = "hv1", cpus: int = 8, memory_gib: int = 32) -> str:
        path = tmp_path / f"{name}.xml"
        path.write_text(node_xml(DemoHost(name, cpus, memory_gib)))
        return f"test://{path}"

    return make


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[ThreadedServer]:
    """The control plane on 127.0.0.1, SQLite in tmp_path, placement loop running (0.2 s ticks)."""
    settings = Settings(data_dir=tmp_path, database_url=None, bind_port=free_port(0), placement_interval_s=0.2)
    server = ThreadedServer(settings)
    server.start()
    yield server
    server.stop()


@dataclass
class LiveRegion:
    """Drancy (lender, one site, 100 % lent) and Bobigny (borrower); one 1-vCPU harvest offering.

        Drancy ── site "drancy" ── hosts the agent reports (none until it joins)
        Bobigny ── borrows vm.small (1 vCPU, 512 MiB, no disk)
    """

    api: ApiClient
    site_id: str
    bobigny_id: str

    def join_token(self) -> str:
        return self.api.issue_join_token(self.site_id).token


@pytest.fixture
def live_region(live_server: ThreadedServer) -> Iterator[LiveRegion]:
    with ApiClient(live_server.url) as api:
        drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
        bobigny = api.create_member(MemberCreate(name="Bobigny", siren="219300084", category="commune"))
        site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
        api.set_offer(site.id, OfferSet(default_percent=100))
        api.create_offering(OfferingCreate(name="vm.small", vcpus=1, memory_mib=512, disk_gib=0))
        yield LiveRegion(api, site.id, bobigny.id)
