"""Background tasks (Django's Tasks API): bulk connection tests never run in a request.

Run them with ``python manage.py db_worker`` (the default database backend; start as many
as the machine has cores) or RQ workers; the work itself is in ``xero/fleet.py``, which
never imports this module.
"""

import logging

from django.utils import timezone
from django_tasks import task

from warehouse import logs
from warehouse.logs import log_context

from . import audit, connect, fleet
from .exceptions import FleetEnqueueFailed, FleetEnqueueUnconfirmed

logger = logging.getLogger(__name__)


@task()
def check_chunk(*, chunk: str, request_id: str = "") -> dict[str, int]:
    """Test the connection of the Sites queued in ``chunk``; how many ended each way.

    Then, as any worker may, queue again the checks of a worker that died. ``request_id``:
    the request that queued it, so the worker's log lines carry it (warehouse/logs.py).
    """
    with log_context(request=request_id):
        return _check_chunk(chunk=chunk)


def _check_chunk(*, chunk: str) -> dict[str, int]:
    outcomes = fleet.fleet_chunk_run(chunk=chunk)
    requeued = fleet.FleetQueued()
    if fleet.fleet_checks_requeue_lapsed(into=requeued):
        try:
            _enqueue_chunks(requeued, keep_rows=True)
        except FleetEnqueueFailed:
            logger.exception("Could not queue again the checks of a stopped worker")
    return outcomes


def fleet_checks_heal() -> int:
    """Queue again, in new tasks, the checks that would otherwise never run: those of a
    worker that died or was paused past its lease, and those whose task the queue lost.
    Every ``db_worker`` calls this while it runs (``operations/sweep.py``), so a batch
    finishes without waiting for the next ``xero_check_fleet``. Returns how many.

    Raises ``FleetEnqueueFailed`` when the task queue refuses; the rows stay queued, and
    the next sweep queues them again (their chunk has no task)."""
    requeued = fleet.FleetQueued()
    if fleet.fleet_checks_requeue_lapsed(into=requeued):
        _enqueue_chunks(requeued, keep_rows=True)
    return requeued.requeued


@task()
def check_sites(*, batch: str) -> dict[str, int]:
    """The task of checks queued before batches were split into chunks: the migration
    made each such batch one chunk. Kept so that those queued tasks still run."""
    return fleet.fleet_chunk_run(chunk=batch)


def fleet_checks_enqueue(*, site_ids=None, user=None, now=None) -> fleet.FleetQueued:
    """Queue a background connection test of each Site (default: all) not already queued.

    One task per chunk of ``XERO_CHECK_CHUNK_SIZE`` Sites, so every worker takes a share;
    checks whose worker died are queued again first. Returns the counts (``.queued``,
    ``.already_queued``, ``.requeued``). Raises ``FleetEnqueueFailed`` when the task queue
    refuses (e.g. Redis down), after removing the rows no task will run.
    """
    queued = fleet.fleet_checks_queue(site_ids=site_ids, user=user, now=now)
    sites = audit.sites_in_chunks(chunks=queued.chunks)
    _enqueue_chunks(queued)
    audit.record_fleet_checks_queued(site_ids=sites, user=user)
    return queued


def _enqueue_chunks(queued: fleet.FleetQueued, *, keep_rows: bool = False) -> None:
    """One task per chunk of ``queued``. A queue that refuses raises ``FleetEnqueueFailed``
    after removing the rows no task will run (unless ``keep_rows``: a worker's sweep keeps
    them queued, for the next sweep to try again). A queue that times out may have taken
    the task (a frozen Redis resumes and runs it): the rows stay, ``queued.unconfirmed``
    says so, and a worker's sweep queues them again if the queue lost them after all."""
    chunks = list(queued.chunks)
    for done, chunk in enumerate(chunks):
        try:
            check_chunk.enqueue(chunk=chunk, request_id=logs.request_id.get())
        except Exception as error:
            reason = " ".join(f"{type(error).__name__}: {error}".split())[:200]
            if _maybe_taken(error):
                queued.unconfirmed = FleetEnqueueUnconfirmed(
                    reason=reason,
                    queued=queued.queued + queued.requeued,
                    unconfirmed=sum(queued.chunks[c] for c in chunks[done:]),
                )
                logger.warning(queued.unconfirmed.message)
                return
            # The rows would wait for a task that does not exist and block the next run:
            # remove them, so that nothing looks queued that is not.
            # The caller says it once (the command in one line, the page as a message).
            removed = 0 if keep_rows else fleet.fleet_checks_unqueue(chunks=chunks[done:])
            raise FleetEnqueueFailed(
                reason=reason,
                enqueued=sum(queued.chunks[c] for c in chunks[:done]),
                removed=removed,
            ) from error


def _maybe_taken(error: Exception) -> bool:
    """Whether the queue may have taken the task although the enqueue failed: it timed
    out waiting for the answer (a frozen or overloaded Redis), rather than refusing."""
    if isinstance(error, TimeoutError):
        return True
    try:
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # the database backend alone: its enqueue is one transaction
        return False
    return isinstance(error, RedisTimeoutError)


@task()
def revoke_replaced_tokens() -> int:
    """Revoke at Xero the refresh tokens replaced by a new consent whose revocation failed
    (``connect.replaced_tokens_revoke``), then queue itself again for the next one due.
    Returns how many are left."""
    left = connect.replaced_tokens_revoke()
    if left:
        replaced_tokens_revoke_enqueue()
    return left


def replaced_tokens_revoke_enqueue() -> None:
    """Queue ``revoke_replaced_tokens`` for when the next replaced token is due. A queue
    that refuses is logged: the tokens stay recorded, and the next consent or the next
    successful enqueue tries them again."""
    at = connect.replaced_tokens_next_attempt()
    if at is None:
        return
    try:
        task = revoke_replaced_tokens
        if task.get_backend().supports_defer and at > timezone.now():
            task = task.using(run_after=at)
        task.enqueue()
    except Exception:
        logger.exception("Could not queue the revocation of replaced Xero refresh tokens")
