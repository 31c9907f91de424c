"""The API and the agent channel over HTTPS with the operator's own certificate, and its CA given to the agent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.agent.runner import Agent
from civicloud.cli.demo import free_port
from civicloud.cli.serve import ThreadedServer
from civicloud.client import ApiClient
from civicloud.errors import InvalidInput, Unavailable
from civicloud.settings import Settings
from civicloud.wire import MemberCreate, OfferSet, SiteCreate

pytestmark = pytest.mark.libvirt


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_agents_join_and_report_over_https(tmp_path: Path, node_file) -> None:  # type: ignore[no-untyped-def]
    cert, key = self_signed(tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=None, bind_port=free_port(0), placement_interval_s=0.5,
                        tls_certfile=cert, tls_keyfile=key)
    assert settings.api_url.startswith("https://127.0.0.1:")
    server = ThreadedServer(settings)
    server.start()
    try:
        with pytest.raises(Unavailable):  # a certificate nobody vouches for is refused
            ApiClient(server.url).health()
        with ApiClient(server.url, ca_file=str(cert)) as api:
            assert api.health()["status"] == "ok"
            drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
            site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
            api.set_offer(site.id, OfferSet(default_percent=100))
            token = api.issue_join_token(site.id).token
            agent = Agent(server.url, tmp_path / "agent", [LibvirtDriver(node_file("hv1"), "hv1")], join_token=token,
                          ca_file=str(cert))
            agent.tick()
            agent.close()
            assert [h.name for h in api.list_hosts()] == ["hv1"]
    finally:
        server.stop()


def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        Settings(data_dir=tmp_path, tls_certfile=tmp_path / "cert.pem").ssl_options()
    assert info.value.code == "civicloud.server.tls_incomplete"
