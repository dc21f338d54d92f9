"""What the task backend still holds of the fleet's chunks, whichever backend it is.

A chunk is recorded twice: its queue rows (``QueuedCheck``, in the database) and the task
that will run it (a database row for ``django_tasks_db``, a job in Redis for RQ). When the
task is gone (its row deleted, Redis restarted or flushed, a job that failed before it
took its rows) the rows would wait for nothing; the sweep (``fleet._lapsed``) queues them
again once this module says no task holds their chunk. The only module that reads the
backends' own records, so ``xero/fleet.py`` asks one question whatever the backend.
"""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)

# The tasks that run a chunk (``xero/tasks.py``), and the argument that names it there.
CHUNK_TASKS = {"xero.tasks.check_chunk": "chunk", "xero.tasks.check_sites": "batch"}


def chunks_with_a_task() -> set[str] | None:
    """The chunks whose task the backend holds, waiting or running; None when the backend
    cannot tell now (Redis unreachable) or at all (a backend we do not know): then no
    chunk is taken for lost, and only ``XERO_CHECK_QUEUE_TIMEOUT`` queues its rows again."""
    if "django_tasks_db" in settings.INSTALLED_APPS:
        return _database_chunks()
    if "django_tasks_rq" in settings.INSTALLED_APPS:
        return _rq_chunks()
    return None


def _database_chunks() -> set[str]:
    from django_tasks_db.models import DBTaskResult

    alive = DBTaskResult.objects.filter(
        task_path__in=list(CHUNK_TASKS), status__in=["READY", "RUNNING"]
    ).values_list("task_path", "args_kwargs")
    return {str((args or {}).get("kwargs", {}).get(CHUNK_TASKS[path])) for path, args in alive}


def _rq_chunks() -> set[str] | None:
    import django_rq
    from redis.exceptions import RedisError
    from rq.job import Job
    from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    chunks = set()
    try:
        for name in settings.TASKS["default"].get("QUEUES", ["default"]):
            queue = django_rq.get_queue(name)
            ids = [
                *queue.get_job_ids(),
                # Cleaned first: a job whose worker died (its heartbeat lapsed) is failed
                # there, not counted as running.
                *StartedJobRegistry(queue=queue).get_job_ids(cleanup=True),
                *ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False),
                *DeferredJobRegistry(queue=queue).get_job_ids(cleanup=False),
            ]
            for job in Job.fetch_many(ids, connection=queue.connection):
                if job is not None and job.func_name in CHUNK_TASKS:
                    chunks.add(str(job.kwargs.get(CHUNK_TASKS[job.func_name])))
    except RedisError:
        logger.warning("Could not read the RQ queue's jobs; no chunk taken for lost")
        return None
    return chunks
