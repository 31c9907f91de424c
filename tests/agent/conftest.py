"""Fixtures shared with the other socket-level tests live in tests/live_support.py; the network namespaces of
the tenant networks' tests, in tests/netns_support.py."""

from collections.abc import Iterator

import pytest

from live_support import live_region, live_server, node_file  # noqa: F401
from netns_support import Lab, require_netns


@pytest.fixture
def lab() -> Iterator[Lab]:
    """Two hosts as network namespaces joined by a veth underlay (see netns_support.Lab); deleted after."""
    require_netns()
    made = Lab()
    try:
        yield made
    finally:
        made.close()
