"""Fixtures shared with the other socket-level tests live in tests/live_support.py."""

from live_support import live_region, live_server, node_file  # noqa: F401
