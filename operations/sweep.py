"""A worker's sweep: the fleet's queue heals itself, whatever the schedule.

Every ``db_worker`` runs this thread beside its loop (idle or busy), so the checks of a
worker that died, froze past its lease or lost its task are queued again within a lease
or so, without waiting for the next ``xero_check_fleet`` from cron. A database or task
queue that fails is logged, counted (``warehouse_worker_errors_total`` on ``/metrics``)
and tried again with a growing pause; it never ends the worker.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from . import counters

logger = logging.getLogger(__name__)

# The longest pause between two tries while the database or the queue keeps failing.
MAX_BACKOFF_SECONDS = 30.0


def sweep_interval() -> float:
    """Half a lease: a lapsed lease is seen within a lease and a half of its last renewal."""
    return max(0.2, settings.XERO_CHECK_LEASE / 2)


class SweepThread(threading.Thread):
    def __init__(self, *, worker: str) -> None:
        super().__init__(name=f"sweep-{worker}", daemon=True)
        self.worker = worker
        self.stopping = threading.Event()

    def run(self) -> None:
        from xero.tasks import fleet_checks_heal

        pause = sweep_interval()
        try:
            while not self.stopping.wait(pause):
                try:
                    close_old_connections()
                    requeued = fleet_checks_heal()
                    if requeued:
                        logger.warning("Worker %s queued %s checks again", self.worker, requeued)
                    pause = sweep_interval()
                except Exception:
                    counters.add("worker_errors_total", {"part": "sweep"})
                    pause = min(pause * 2, MAX_BACKOFF_SECONDS)
                    logger.warning(
                        "Worker %s could not sweep the fleet queue; trying again in %.0f s",
                        self.worker,
                        pause,
                        exc_info=True,
                    )
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
