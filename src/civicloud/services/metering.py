"""The hourly roll-up: usage records for every closed hour, once.

Runs in the control plane's loop and before every billing run. Each step takes
up to a day of hours after the watermark, computes their records from the
allocations and the agents' samples (``domain.metering.records_for``), appends
them and moves the watermark in one transaction; the watermark's
compare-and-swap means two replicas never roll the same hours up twice (and the
records' ids, derived from allocation and hour, would refuse it anyway).

An hour is rolled up once it closed ``grace`` ago, so that samples an agent
spooled through a short outage arrive first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from civicloud.domain.metering import floor_hour, records_for
from civicloud.services._common import UowFactory

log = logging.getLogger(__name__)
STEP = timedelta(days=1)


def roll_up(uow_factory: UowFactory, now: datetime, grace: timedelta = timedelta(minutes=10)) -> int:
    """Roll up every hour that closed at least ``grace`` before ``now``; returns the records written."""
    until = floor_hour(now - grace)
    written = 0
    while True:
        with uow_factory() as uow:
            repo = uow.usage_records
            seen = repo.rolled_up_until()
            start = seen
            if start is None:
                first = repo.first_allocation_at()
                start = floor_hour(first) if first is not None and floor_hour(first) < until else until
            if start >= until:
                if seen is None and repo.advance(None, until):
                    uow.commit()
                return written
            end = min(start + STEP, until)
            records = records_for(repo.held_between(start, end), repo.samples_between(start, end), start, end)
            repo.add_many(records)
            if not repo.advance(seen, end):
                uow.rollback()  # another replica rolled these hours up meanwhile
                continue
            uow.commit()
        written += len(records)
        log.debug("rolled up %s to %s: %d usage records", start, end, len(records))
