"""Task workers' heartbeats: how ``/readyz`` and ``/metrics`` know a worker is alive.

django-tasks-db's ``db_worker`` has no hook in its loop, and its signals fire only when a
task runs, so an idle worker would look dead. Our ``db_worker`` (the same command,
``operations/management/commands/db_worker.py``) runs a small thread beside the
library's loop that writes this process's row every ``WORKER_HEARTBEAT_INTERVAL`` seconds.
RQ keeps heartbeats of its own in Redis; ``rq_heartbeats`` reads them.
"""

import datetime
import logging
import os
import threading

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)


def beat(
    *, worker: str, started_at: datetime.datetime, now: datetime.datetime | None = None
) -> None:
    """Record that ``worker`` is alive now."""
    WorkerHeartbeat.objects.update_or_create(
        worker=worker,
        defaults={"pid": os.getpid(), "started_at": started_at, "beat_at": now or timezone.now()},
    )


def forget(*, worker: str) -> None:
    """A worker stopping cleanly says so at once (a killed one ages out of the window)."""
    WorkerHeartbeat.objects.filter(worker=worker).delete()


class HeartbeatThread(threading.Thread):
    """Beats every ``WORKER_HEARTBEAT_INTERVAL`` seconds until stopped."""

    def __init__(self, *, worker: str) -> None:
        super().__init__(name=f"heartbeat-{worker}", daemon=True)
        self.worker = worker
        self.started_at = timezone.now()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while True:
                try:
                    close_old_connections()
                    beat(worker=self.worker, started_at=self.started_at)
                except DatabaseError:
                    # A busy or lost database: the next beat tries again; the window allows it.
                    logger.warning("Could not record the worker's heartbeat", exc_info=True)
                if self.stopping.wait(settings.WORKER_HEARTBEAT_INTERVAL):
                    break
            self.forget()
        finally:
            connection.close()

    def forget(self) -> None:
        # Once more on a new connection: the idle one may have been cut meanwhile (a
        # database restarted, connections terminated), which only its next use tells.
        for last_try in (False, True):
            try:
                forget(worker=self.worker)
                return
            except DatabaseError:
                connection.close()
                if last_try:
                    logger.warning(
                        "Could not remove the worker's heartbeat; it ages out", exc_info=True
                    )

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def db_heartbeats(*, now: datetime.datetime) -> list[float]:
    """Seconds since each database worker's last beat, freshest first."""
    beats = WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True)
    return [max(0.0, (now - beat_at).total_seconds()) for beat_at in beats]


def rq_heartbeats(*, now: datetime.datetime) -> list[float]:
    """Seconds since each RQ worker's last heartbeat (kept by RQ in Redis), freshest first."""
    import django_rq
    from rq import Worker

    ages = []
    for worker in Worker.all(connection=django_rq.get_connection("default")):
        if worker.last_heartbeat is not None:
            last = worker.last_heartbeat
            if timezone.is_naive(last):
                last = timezone.make_aware(last, datetime.UTC)
            ages.append(max(0.0, (now - last).total_seconds()))
    return sorted(ages)


def worker_heartbeats(*, now: datetime.datetime | None = None) -> list[float] | None:
    """Seconds since each worker's last heartbeat for the configured task backend, or None
    when the backend runs tasks without workers (the tests' immediate backend)."""
    now = now or timezone.now()
    backend = settings.TASKS["default"]["BACKEND"]
    if backend.startswith("django_tasks_db."):
        return db_heartbeats(now=now)
    if backend.startswith("django_tasks_rq."):
        return rq_heartbeats(now=now)
    return None
