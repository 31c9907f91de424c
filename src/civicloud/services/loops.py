"""Background loops of the control plane: reclaim, placement of pending workloads, the hourly usage roll-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from civicloud.domain.metering import floor_hour
from civicloud.errors import CivicloudError
from civicloud.services._common import UowFactory
from civicloud.services.metering import roll_up
from civicloud.services.placement import (
    PlacementOutcome,
    PlacementSettings,
    place_pending,
)
from civicloud.services.reclaim import ReclaimOutcome, reclaim_pass

log = logging.getLogger(__name__)


class PlacementLoop:
    """Reclaims what lenders take back, then places pending workloads in arrival order, off the request path.

    Runs every ``interval_s`` seconds, and at once when woken (a new workload,
    a heartbeat, a freed allocation, an offer change), so a burst of requests
    never blocks the API. One thread; several server replicas may each run
    one: the claims' compare-and-swap keeps them from overbooking.
    """

    def __init__(self, uow_factory: UowFactory, settings: PlacementSettings, *, interval_s: float,
                 min_gap_s: float = 0.0) -> None:
        self._uow_factory = uow_factory
        self._settings = settings
        self._interval = interval_s
        self._min_gap = min_gap_s
        self._clock = uow_factory().clock  # now is the units of work's (civicloud.clock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # run_once from a test and the thread never overlap
        self.last_reclaim = ReclaimOutcome()
        # One context for the loop's life, shared by reclaim and placement: each pass re-reads what moved.
        self.contexts = settings.context_cache()
        self._rolled_up_to: datetime | None = None  # the hour the usage roll-up last reached, from this process

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> list[PlacementOutcome]:
        with self._lock:
            self.last_reclaim = reclaim_pass(self._uow_factory, self._settings, self.contexts.context)
            placed = place_pending(self._uow_factory, self._settings, contexts=self.contexts.context)
            now = self._clock()
            hour = floor_hour(now - self._settings.metering_grace)
            if hour != self._rolled_up_to:  # at most once per hour and process: an hour closed since
                roll_up(self._uow_factory, now, self._settings.metering_grace)
                self._rolled_up_to = hour
            return placed

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="civicloud-placement", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            self._pass()

    def run_forever(self, stop: threading.Event, wait: Callable[[float], bool], slice_s: float = 0.5) -> None:
        """The loop in a process of its own (``civicloud server``): a pass, then wait up to the interval for a
        wake-up from another process (``wait``: ``store.wakeups``) or from this loop's own commits, in slices
        of ``slice_s`` so that ``stop`` is seen soon; until ``stop`` is set.

        Passes start at least ``min_gap_s`` apart: under a burst of requests each wake-up would otherwise
        start a pass for the one or two workloads that arrived since the last, and a pass costs about the
        same for one workload as for fifty (it reads what moved and assembles the context); waiting that
        long lets the burst gather. A lone request is decided at once."""
        started = None
        while not stop.is_set():
            if started is not None and self._min_gap > 0:
                remaining = self._min_gap - (self._clock() - started).total_seconds()
                if remaining > 0 and stop.wait(min(remaining, self._min_gap)):
                    break
            started = self._clock()
            self._pass()
            waited = 0.0
            while not stop.is_set() and not self._wake.is_set() and waited < self._interval:
                step = min(slice_s, self._interval - waited)
                if wait(step):
                    break
                waited += step
            self._wake.clear()

    def _pass(self) -> None:
        try:
            for outcome in self.run_once():
                if outcome.placed:
                    log.info("placed workload %s: %s", outcome.workload_id, outcome.message)
        except CivicloudError as exc:
            log.warning("placement pass failed (%s): %s", exc.code, exc.message)
        except Exception:  # a bug must not stop placement for good
            log.exception("placement pass crashed; retrying at the next tick")
