"""``manage.py db_worker``: django-tasks-db's worker, with a heartbeat and a sweep beside its
loop, that outlives a database outage.

Listed before ``django_tasks_db`` in INSTALLED_APPS, this command replaces the library's of
the same name and takes the same options. The heartbeat thread writes this worker's row
(``operations/heartbeat.py``) so that ``/readyz`` and ``/metrics`` know it is
alive even when the queue is empty; the row goes when the worker stops cleanly. The sweep
thread (``operations/sweep.py``) queues again the fleet checks nobody will run. When the
database fails under the library's loop (restarted, connections terminated, disk full),
the worker logs it, counts it and tries again with a growing pause instead of exiting.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connections
from django.utils import timezone
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from operations import counters
from operations.collector import settle_worker_process
from operations.heartbeat import HeartbeatThread
from operations.sweep import MAX_BACKOFF_SECONDS, SweepThread

logger = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
# A failure this long after the last one starts the pauses again from the first.
BACKOFF_RESET_SECONDS = 60.0


class ResilientWorker(db_worker.Worker):
    """The library's worker, whose loop is started again after a database error."""

    # The task whose end the database failed to record: marked failed once it answers.
    unrecorded: DBTaskResult | None = None

    def run_task(self, db_task_result: DBTaskResult) -> None:
        try:
            super().run_task(db_task_result)
        except DatabaseError:
            self.unrecorded = db_task_result
            raise

    def record_unrecorded(self) -> None:
        if self.unrecorded is not None:
            DBTaskResult.objects.filter(pk=self.unrecorded.pk, status="RUNNING").update(
                status="FAILED", finished_at=timezone.now()
            )
            self.unrecorded = None

    def run(self) -> None:
        pause, last_failure = FIRST_BACKOFF_SECONDS, 0.0
        while True:
            try:
                self.record_unrecorded()
                super().run()
                return
            except DatabaseError:
                now = time.monotonic()
                if now - last_failure > BACKOFF_RESET_SECONDS:
                    pause = FIRST_BACKOFF_SECONDS
                last_failure = now
                counters.add("worker_errors_total", {"part": "loop"})
                logger.warning(
                    "Worker %s: the database failed; trying again in %.1f s",
                    self.worker_id,
                    pause,
                    exc_info=True,
                )
                # A broken connection is not reused: the next try opens a new one.
                connections.close_all()
                if not self.running:
                    return
                time.sleep(pause)
                pause = min(pause * 2, MAX_BACKOFF_SECONDS)


@contextmanager
def _resilient_worker():
    # The library's command builds its worker by this module-level name.
    library_worker = db_worker.Worker
    db_worker.Worker = ResilientWorker  # type: ignore[misc]
    try:
        yield
    finally:
        db_worker.Worker = library_worker  # type: ignore[misc]


@contextmanager
def beside_the_loop(*, worker: str) -> Iterator[None]:
    """The heartbeat and sweep threads, running while the library's loop does."""
    heartbeat = HeartbeatThread(worker=worker)
    sweep = SweepThread(worker=worker)
    heartbeat.start()
    sweep.start()
    try:
        yield
    finally:
        # The library's SIGTERM handler calls sys.exit() wherever the loop stands. Just after
        # a BEGIN, before transaction.atomic has taken charge, the transaction stays open
        # and on SQLite keeps the write lock the heartbeat needs to remove its row: the row
        # would outlive the worker. Closing this thread's connections rolls it back.
        connections.close_all()
        sweep.stop()
        heartbeat.stop()


class Command(db_worker.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        settle_worker_process()
        with beside_the_loop(worker=options["worker_id"]), _resilient_worker():
            super().handle(*args, **options)
