"""``manage.py db_worker``: django-tasks-db's worker, with a heartbeat beside its loop.

Listed before ``django_tasks_db`` in INSTALLED_APPS, this command replaces the library's of
the same name and takes the same options. The heartbeat thread writes this worker's row
(``operations/heartbeat.py``) so that ``/readyz`` and ``/metrics`` know it is
alive even when the queue is empty; the row goes when the worker stops cleanly.
"""

from typing import Any

from django_tasks_db.management.commands import db_worker

from operations.heartbeat import HeartbeatThread


class Command(db_worker.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        heartbeat = HeartbeatThread(worker=options["worker_id"])
        heartbeat.start()
        try:
            super().handle(*args, **options)
        finally:
            heartbeat.stop()
