"""Background loops of the control plane: today, placement of pending workloads."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from civicloud.errors import CivicloudError
from civicloud.services._common import UowFactory
from civicloud.services.placement import PlacementOutcome, place_pending

log = logging.getLogger(__name__)


class PlacementLoop:
    """Places pending workloads in arrival order, off the request path.

    Runs every ``interval`` seconds, and at once when woken (a new workload,
    a heartbeat, a freed allocation), so a burst of requests never blocks the
    API. One thread; several server replicas may each run one, the claims'
    compare-and-swap keeps them from overbooking.
    """

    def __init__(self, uow_factory: UowFactory, *, interval_s: float, stale_after_s: float, retries: int) -> None:
        self._uow_factory = uow_factory
        self._interval = interval_s
        self._stale_after = timedelta(seconds=stale_after_s)
        self._retries = retries
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def run_once(self) -> list[PlacementOutcome]:
        return place_pending(self._uow_factory, stale_after=self._stale_after, retries=self._retries)

    def start(self) -> None:
        if self._thread is None:
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
            try:
                for outcome in self.run_once():
                    if outcome.placed:
                        log.info("placed workload %s: %s", outcome.workload_id, outcome.message)
            except CivicloudError as exc:
                log.warning("placement pass failed (%s): %s", exc.code, exc.message)
            except Exception:  # a bug must not stop placement for good
                log.exception("placement pass crashed; retrying at the next tick")
