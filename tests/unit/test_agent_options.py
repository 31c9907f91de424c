"""The agent's command-line options for tenant networks are checked before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloud.cli.serve import _tunnel_ip, require_bridge_filtering
from civicloud.errors import InvalidInput


def test_a_host_without_br_netfilter_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused:
        require_bridge_filtering(tmp_path / "bridge-nf-call-iptables")
    assert refused.value.code == "civicloud.agent.no_bridge_filtering"
    assert "modprobe br_netfilter" in refused.value.message
    probe = tmp_path / "present"
    probe.write_text("0\n")
    require_bridge_filtering(probe)  # present: nothing to say


@pytest.mark.parametrize("text", ["10.99.0", "fe80::1", "10.99.0.1/24", "", "host"])
def test_the_tunnel_address_is_an_ipv4_address(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _tunnel_ip(text)
    assert refused.value.code == "civicloud.agent.invalid_tunnel_ip"
    assert _tunnel_ip("10.99.0.1") == "10.99.0.1"
