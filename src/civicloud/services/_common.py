"""Small helpers the services share."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from civicloud.store import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)
