"""Placement scenes on the real store (SQLite and PostgreSQL, from tests/conftest.py's fixtures)."""

from __future__ import annotations

import pytest

from placement_scene import Scene


@pytest.fixture
def scene(engine) -> Scene:  # type: ignore[no-untyped-def]
    return Scene.on(engine)
