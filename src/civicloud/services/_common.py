"""Small helpers the services share."""

from __future__ import annotations

from collections.abc import Callable

from civicloud.clock import Clock, IdSource
from civicloud.store import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


def runtime_of(uow_factory: UowFactory) -> tuple[Clock, IdSource]:
    """The notion of now and of new ids that the units of work of ``uow_factory`` carry (``civicloud.clock``),
    for a pass that decides between transactions."""
    probe = uow_factory()
    return probe.clock, probe.new_id
