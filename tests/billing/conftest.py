"""Billing scenes on the real store (SQLite and PostgreSQL, from tests/conftest.py's fixtures)."""

from __future__ import annotations

import pytest

from billing_scene import Ledger


@pytest.fixture
def ledger(uow_factory) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger(uow_factory)
