"""Fixtures shared with the other socket-level tests live in tests/live_support.py."""

from collections.abc import Iterator

import pytest

from live_support import live_region, live_server, node_file  # noqa: F401


@pytest.fixture(autouse=True)
def _consoles_follow_columns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pytest-xdist's workers start with COLUMNS=80, which rich reads once, when the CLI's consoles are made;
    the tests set COLUMNS per command, as a terminal would: let the consoles read it when they print."""
    from civicloud.cli import common

    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", None)
    yield
