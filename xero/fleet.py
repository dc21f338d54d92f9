"""Writes of fleet health: queue background checks in chunks, run a chunk, alert the Admins.

Services like those of ``xero/services.py``, kept apart because they are about many Sites
at once and run in a worker rather than a request. Queueing the tasks themselves is
``xero/tasks.py``'s job: this module never imports it, so the layers run one way
(tasks → fleet → services → client → models).

A batch (one ``xero_check_fleet``, one click on the health page) is split into chunks of
``XERO_CHECK_CHUNK_SIZE`` Sites, one task each, so that every worker process (``db_worker``
or RQ, on any machine) takes a share. A worker that starts a chunk holds a lease on its
queue rows and renews it while it runs; when a worker dies, its lease lapses and the rows
are queued again in a new chunk by the next ``xero_check_fleet`` or by any worker that
finishes a chunk, and the history rows it left ``running`` become ``interrupted``.
"""

import contextvars
import datetime
import functools
import logging
import os
import queue
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from sites.models import Site
from warehouse import database

from . import (
    certificates,
    fleet_alerts,
    limits,
    pausing,
    pool,
    selectors,
    task_queue,
    transport,
)
from .exceptions import LeaseLost, XeroError
from .models import Certificate, ConnectionTest, QueuedCheck
from .services import connection_test_run, session_budget

logger = logging.getLogger(__name__)

Outcome = ConnectionTest.Outcome
INTERRUPTED_MESSAGE = (
    "The test did not finish: the worker running it stopped (restarted or killed). The Site "
    "was queued again; nothing is known from this run."
)


@dataclass
class FleetQueued:
    """What one enqueue did: Sites newly queued, already waiting, queued again after a
    worker died; and the chunks (task arguments) that still need their task."""

    queued: int = 0
    already_queued: int = 0
    requeued: int = 0
    chunks: dict[str, int] = field(default_factory=dict)
    # Not queued: paused by Staff, or tested daily by the circuit breaker (``pausing``).
    paused: int = 0
    held: int = 0
    reserve: int = 0
    # Set when the task queue timed out: those checks may or may not have their task.
    unconfirmed: XeroError | None = None

    def summary(self) -> str:
        skipped = ""
        if self.paused or self.held or self.reserve:
            skipped = (
                f" Skipped {self.paused} paused, {self.held} tested daily after failing "
                f"the same way (circuit breaker), and {self.reserve} with fewer than "
                f"{settings.XERO_DAY_CALLS_RESERVE} of Xero's calls left today."
            )
        return (
            f"Queued {self.queued} Site check{'s' * (self.queued != 1)}; "
            f"{self.already_queued} already queued; {self.requeued} re-queued after a "
            f"worker stopped.{skipped}"
        )


def _chunked(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _lapsed(now: datetime.datetime) -> Q:
    """Queue rows whose check will not run: their worker died (the lease lapsed), their
    task never started within ``XERO_CHECK_QUEUE_TIMEOUT`` (a queue emptied), or the
    database task backend has no task waiting for their chunk any more (``_taskless``)."""
    lost = now - datetime.timedelta(seconds=settings.XERO_CHECK_QUEUE_TIMEOUT)
    return (
        Q(lease_until__lt=now)
        | Q(lease_until__isnull=True, queued_at__lt=lost)
        | Q(lease_until__isnull=True, chunk__in=_taskless(now))
    )


def _taskless(now: datetime.datetime) -> list:
    """Chunks waiting for a task that the backend no longer has (a database task row lost,
    failed or finished without running them; an RQ job gone from Redis), past a lease's
    grace for the enqueue that follows the rows (``task_queue``)."""
    grace = now - datetime.timedelta(seconds=settings.XERO_CHECK_LEASE)
    waiting = set(
        QueuedCheck.objects.filter(lease_until__isnull=True, queued_at__lt=grace)
        .values_list("chunk", flat=True)
        .distinct()
    )
    if not waiting:
        return []
    tasked = task_queue.chunks_with_a_task()
    if tasked is None:
        return []
    return [chunk for chunk in waiting if str(chunk) not in tasked]


def fleet_checks_queue(
    *, site_ids=None, user=None, now: datetime.datetime | None = None
) -> FleetQueued:
    """Queue a connection test of each Site (default: all) not already queued, in chunks.

    Rows of a dead worker or a lost task are queued again first, in new chunks. The caller
    enqueues one task per chunk of the result (``xero.tasks.fleet_checks_enqueue``).
    """
    now = now or timezone.now()
    result = FleetQueued()
    requeued_ids = fleet_checks_requeue_lapsed(now=now, into=result)
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=site_ids)
    paused, held = pausing.fleet_skipped(now=now, explicit=site_ids is not None)
    # Checks never starve the Interconnect of the day's calls.
    reserve = selectors.sites_under_day_reserve(now=now, reserve=settings.XERO_DAY_CALLS_RESERVE)
    reserve -= paused | held
    selected = _token_sets_spread(sites.values_list("pk", "xero_tenant__token_set_id"))
    result.paused = len([pk for pk in selected if pk in paused])
    result.held = len([pk for pk in selected if pk in held])
    result.reserve = len([pk for pk in selected if pk in reserve])
    selected = [pk for pk in selected if pk not in paused | held | reserve]
    waiting = set(QueuedCheck.objects.values_list("site_id", flat=True))
    batch = uuid.uuid4()
    rows = []
    for group in _chunked([pk for pk in selected if pk not in waiting], _chunk_size()):
        chunk = uuid.uuid4()
        rows += [
            QueuedCheck(site_id=pk, batch=batch, chunk=chunk, queued_at=now, queued_by=user)
            for pk in group
        ]
    # The primary key is the Site: against a concurrent enqueue a row already there wins
    # and ours is dropped, so the rows carrying our batch are exactly the ones we queued.
    QueuedCheck.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    counted = QueuedCheck.objects.filter(batch=batch).values_list("chunk").annotate(n=Count("pk"))
    for chunk, count in counted.order_by():
        result.chunks[str(chunk)] = count
        result.queued += count
    result.already_queued = len(selected) - result.queued - len(requeued_ids & set(selected))
    logger.info("Batch %s: %s", batch, result.summary())
    return result


def _token_sets_spread(sites) -> list[int]:
    """The Sites' ids (from (id, token set id) pairs) with those sharing a token set apart.

    A token set's expired access token is refreshed once, by the first of its Sites to be
    tested, while the others wait. In id order a token set's Sites usually come together
    (connected in one consent), so a chunk's threads would all wait for each refresh in
    turn; spread out, the first Site of every token set comes first and their refreshes run
    side by side. Sites without a token set keep their place in id order.
    """
    seen: Counter[int] = Counter()
    ranked = []
    for site_id, token_set_id in sorted(sites):
        rank = 0
        if token_set_id is not None:
            rank = seen[token_set_id]
            seen[token_set_id] += 1
        ranked.append((rank, site_id))
    return [site_id for _, site_id in sorted(ranked)]


def fleet_checks_requeue_lapsed(
    *, now: datetime.datetime | None = None, into: FleetQueued | None = None
) -> set[int]:
    """Give the checks of dead workers and lost tasks new chunks; return their Sites.

    The history rows a dead worker left ``running`` become ``interrupted``. The new chunks
    are added to ``into`` (the caller enqueues their tasks).
    """
    now = now or timezone.now()
    lapsed = _lapsed(now)
    rows = list(QueuedCheck.objects.filter(lapsed).values_list("site_id", "lease_until", "worker"))
    if not rows:
        return set()
    leases = [lease for _, lease, _ in rows if lease is not None]
    if leases:
        # The dead worker started its tests before its lease lapsed; a test started
        # since is someone else's (a click) and still running.
        ConnectionTest.objects.filter(
            outcome=Outcome.RUNNING,
            site_id__in=[site_id for site_id, lease, _ in rows if lease is not None],
            started_at__lte=max(leases),
        ).update(outcome=Outcome.INTERRUPTED, message=INTERRUPTED_MESSAGE)
    requeued = set()
    into = into if into is not None else FleetQueued()
    for group in _chunked([site_id for site_id, _, _ in rows], _chunk_size()):
        chunk = uuid.uuid4()
        # Only rows still lapsed: another process may have queued them again meanwhile.
        moved = QueuedCheck.objects.filter(lapsed, site_id__in=group).update(
            chunk=chunk, worker="", lease_until=None, queued_at=now
        )
        if moved:
            into.chunks[str(chunk)] = moved
            into.requeued += moved
            requeued.update(group)
    _fail_dead_database_tasks({worker for _, lease, worker in rows if lease is not None})
    logger.warning("Queued %s Site checks again after their worker stopped", into.requeued)
    return requeued


def _fail_dead_database_tasks(workers) -> None:
    """Mark the database backend's tasks of dead runs failed instead of running for good.

    A run's name ends with the chunk its task was given (``_worker_name``), so the rows it
    left name the task that can no longer say it ended.
    """
    if "django_tasks_db" not in settings.INSTALLED_APPS:
        return  # RQ keeps its own record of a job whose worker died
    from django_tasks_db.models import DBTaskResult

    chunks = {worker.rsplit(":", 1)[-1] for worker in workers if worker}
    if chunks:
        DBTaskResult.objects.filter(
            Q(task_path="xero.tasks.check_chunk", args_kwargs__kwargs__chunk__in=chunks)
            | Q(task_path="xero.tasks.check_sites", args_kwargs__kwargs__batch__in=chunks),
            status="RUNNING",
        ).update(status="FAILED", finished_at=timezone.now())


def fleet_checks_unqueue(*, chunks) -> int:
    """Remove the queue rows of ``chunks`` whose task could not be enqueued; how many."""
    deleted, _ = QueuedCheck.objects.filter(
        chunk__in=list(chunks), lease_until__isnull=True
    ).delete()
    return deleted


def _chunk_size() -> int:
    return max(1, settings.XERO_CHECK_CHUNK_SIZE)


def _worker_name(chunk) -> str:
    """Names a run: where it runs, and the chunk its task was given (see
    ``_fail_dead_database_tasks``)."""
    return f"{socket.gethostname()[:18]}:{os.getpid()}:{chunk}"


def fleet_chunk_run(*, chunk: str) -> dict[str, int]:
    """Run the queued checks of ``chunk``, ``XERO_MAX_CONCURRENT_CALLS`` Sites at a time.

    Takes the lease of the chunk's rows (a second task of the same chunk finds nothing),
    reads its Sites and their certificates at once, claims their history rows in one
    transaction, then tests them in threads: the work is waiting on Xero, so threads
    overlap it; ``xero/limits.py`` keeps the calls within Xero's limits across every
    thread and process.

    When its queue runs low, the run takes the next chunk nobody has started (for up to
    ``STEAL_FOR_SECONDS``), so its threads never idle at a chunk's tail; that chunk's own
    task then finds nothing to do. Returns how many Sites ended with each outcome.
    """
    run = _ChunkRun(chunk)
    try:
        # Inside: a take that fails half-way (the database lost) has started the lease's
        # heartbeat, which must stop, or it would renew those rows' lease for good.
        if not run.take(chunk):
            return {}
        with certificates.keys_loaded_once():
            run.run(workers=_fair_share(now=run.started))
    finally:
        run.finish()
    outcomes = {outcome: n for outcome, n in run.outcomes.items() if n}
    logger.info("Chunk %s and %s more checked %s Sites: %s", chunk, run.stolen,
                sum(outcomes.values()), outcomes)  # fmt: skip
    return outcomes


# A run takes more chunks only this long, well within a task queue's job timeout (RQ's
# default is 180 s).
STEAL_FOR_SECONDS = 60


# Outcomes that say the Warehouse itself could not test (its database busy or failing, its
# process stalled): the Site is tested again, not left without a verdict until the next run.
OUR_OWN_TROUBLE = {
    Outcome.WAREHOUSE_BUSY,
    Outcome.WAREHOUSE_STORAGE_FAILED,
    Outcome.WAREHOUSE_STALLED,
}


class _ChunkRun:
    """One task's run: its chunk, and the chunks it takes on when its queue runs low."""

    def __init__(self, chunk):
        self.worker = _worker_name(chunk)
        self.started = timezone.now()
        self.lease = datetime.timedelta(seconds=settings.XERO_CHECK_LEASE)
        self.heartbeat = _Heartbeat(worker=self.worker, lease=self.lease)
        self.pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.steal_lock = threading.Lock()
        self.stolen = 0
        # Set when a result is refused (``fence``): the run was paused past its lease, so
        # its other Sites are someone else's too; it tests no more of them.
        self.lease_lost = False
        self.share, self.active, self.jobs = 1, 0, None

    def take(self, chunk) -> bool:
        """Lease ``chunk``'s rows and queue its Sites here; False if someone has it."""
        now = timezone.now()
        if not QueuedCheck.objects.filter(chunk=chunk, lease_until__isnull=True).update(
            worker=self.worker, lease_until=now + self.lease
        ):
            return False
        if self.heartbeat.ident is None:  # never started (a thread starts only once)
            self.heartbeat.start()
        sites = list(
            Site.objects.filter(queued_check__chunk=chunk, queued_check__worker=self.worker)
            .prefetch_related(
                Prefetch(
                    "certificates",
                    queryset=Certificate.objects.current(),
                    to_attr="prefetched_current_certificates",
                )
            )
            .order_by("pk")
        )
        tests = _claim_history_rows(sites, now=now)
        state = _ChunkState(sites=sites, remaining=len(tests))
        with self.lock:
            self.outcomes[Outcome.COOLDOWN.value] += len(sites) - len(tests)
        for site in sites:
            if site.pk in tests:
                self.pending.put((site, tests[site.pk], state))
            else:
                self.heartbeat.done(site.pk)
        if not tests:
            fleet_alerts.chunk_alerts_send(sites, {})
        return True

    def steal(self, workers: int) -> None:
        """Take the next chunk nobody started, if the queue runs low and time allows."""
        if (
            self.lease_lost
            or self.pending.qsize() >= workers
            or not self.steal_lock.acquire(blocking=False)
        ):
            return
        try:
            if (timezone.now() - self.started).total_seconds() > STEAL_FOR_SECONDS:
                return
            for chunk in (
                QueuedCheck.objects.filter(lease_until__isnull=True)
                .values_list("chunk", flat=True)
                .distinct()[:3]
            ):
                if self.take(chunk):
                    self.stolen += 1
                    # Workers may have started or ended since: take this run's share now.
                    share = _fair_share(now=timezone.now())
                    with self.lock:
                        self.share = share
                        self.add_runners()
                    return
        finally:
            self.steal_lock.release()

    def check(self, item) -> None:
        site, test, state = item
        if self.lease_lost:
            # Left to lapse and be queued again; its running row then says interrupted.
            with self.lock:
                self.outcomes[Outcome.INTERRUPTED.value] += 1
            self.finished_without_verdict(item)
            return
        test.started_at = timezone.now()
        try:
            with limits.waiting():
                test = connection_test_run(
                    site=site, claimed=test, fence=functools.partial(self.fence, site.pk)
                )
        except LeaseLost:
            # Paused past the lease: the Site is queued again for a worker holding one,
            # whose verdict (and alert) counts; this run tells nothing about it.
            test = None
            self.lease_lost = True
        with self.lock:
            self.outcomes[str(test.outcome if test else Outcome.INTERRUPTED)] += 1
        if state.finished(site.pk, test):
            # The chunk's last Site: tell its alerts, then let its results go (memory
            # stays flat however many chunks the run takes).
            fleet_alerts.chunk_alerts_send(state.sites, state.results)
            state.results.clear()

    def fence(self, site_id: int, test: ConnectionTest) -> None:
        """Remove the Site's queue row with its result, if this run still holds its lease.

        Called in the transaction that saves the result (``connection_test_run``), so the
        result and the row's removal commit together: a worker killed after it has neither
        (tested again) nor both (done). A run whose lease lapsed meanwhile (paused, or cut
        off from the database) raises ``LeaseLost`` and its result is rolled back. A result
        whose save failed, or that shows the Warehouse's own trouble (``OUR_OWN_TROUBLE``),
        leaves the row, which lapses and is queued again.
        """
        now = timezone.now()
        if test.outcome in OUR_OWN_TROUBLE:
            # Recorded (never blamed on Xero), and the row stays: it lapses when the run
            # ends (``finish``) and the Site is tested again for a verdict.
            held = QueuedCheck.objects.filter(
                site_id=site_id, worker=self.worker, lease_until__gt=now
            )
            if not held.exists():
                raise LeaseLost
            return
        if not QueuedCheck.objects.delete_held(site_id=site_id, worker=self.worker, now=now):
            raise LeaseLost

    def run(self, *, workers: int) -> None:
        self.share = workers
        if workers == 1:
            # In the calling thread: its database connection is the one to use (and, in
            # tests, the one inside the test's transaction).
            self.active, self.jobs = 1, None
            self.work()
            return
        # Each runner runs in a copy of this context: the run's loaded keys are shared.
        self.context = contextvars.copy_context()
        self.active, self.jobs = 0, pool.shared.new_jobs()
        with self.lock:
            self.add_runners()
        self.jobs.wait()

    def add_runners(self) -> None:
        """Start runners up to the run's share of the cap (called holding ``lock``)."""
        while self.jobs is not None and self.active < self.share:
            self.active += 1
            self.jobs.add(self.context.copy(), self.work)

    def work(self) -> None:
        try:
            self._work()
        except BaseException:
            # Its slot or its lock wait could not be set (the database lost, the disk
            # full): no longer a runner, or the others would leave it the work.
            with self.lock:
                self.active -= 1
            raise

    def _work(self) -> None:
        # Every test sets its lock wait to its budget and back; held here for the whole
        # loop, those settings cost no statements (``warehouse.database``).
        with (
            limits.global_slot(),
            database.lock_waits_at_most(session_budget()),
            transport.connections_kept(),
        ):
            while True:
                with self.lock:
                    if self.active > max(1, self.share):
                        # More workers than when this one started: leave them the slot.
                        self.active -= 1
                        return
                try:
                    self.steal(self.share)
                except DatabaseError as error:
                    # Another chunk is extra work: left queued, for this run's next look or
                    # another worker's (the disk full, the database lost).
                    logger.warning("Could not take another chunk: %s", error)
                    _close_if_broken()
                try:
                    item = self.pending.get_nowait()
                except queue.Empty:
                    with self.lock:
                        self.active -= 1
                    return
                try:
                    self.check(item)
                except DatabaseError:
                    # Our database, not the Site: the row stays and lapses, so the Site is
                    # queued again once the database answers (its history row then says
                    # interrupted).
                    logger.exception("A fleet check could not reach the database")
                    self.finished_without_verdict(item)
                    _close_if_broken()
                except Exception:
                    # Not queued again (it would fail again); its row says what happened.
                    logger.exception("A fleet check failed unexpectedly")
                    site, test, state = item
                    try:
                        ConnectionTest.objects.filter(pk=test.pk, outcome=Outcome.RUNNING).update(
                            outcome=Outcome.INTERRUPTED, message=INTERRUPTED_MESSAGE
                        )
                    except DatabaseError:
                        logger.exception("Could not record the interrupted check")
                    self.heartbeat.done(site.pk)
                    self.finished_without_verdict(item)

    def finished_without_verdict(self, item) -> None:
        site, _, state = item
        if state.finished(site.pk, None):
            state.results.clear()

    def finish(self) -> None:
        # A Site's row went with its result (``fence``), or goes here when it is settled
        # without one (cooldown, a fault of ours). Any other row left (a save that failed,
        # a run that failed) keeps its lapsing lease: it is queued again and its running
        # history row said interrupted.
        self.heartbeat.stop()
        try:
            self.heartbeat.forget_finished()
            # Lapsed at once, so the next sweep queues them again rather than a lease later.
            QueuedCheck.objects.filter(worker=self.worker).update(lease_until=timezone.now())
        except DatabaseError:
            logger.warning("Could not give up the leases of %s; they lapse", self.worker)


def _close_if_broken() -> None:
    # A connection the database dropped (restarted, terminated) is never usable again:
    # closed, the thread's next statement opens a new one.
    if not connection.in_atomic_block and not connection.is_usable():
        connection.close()


@dataclass
class _ChunkState:
    sites: list
    remaining: int
    results: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finished(self, site_id, test) -> bool:
        with self.lock:
            self.results[site_id] = test
            self.remaining -= 1
            return self.remaining == 0


def _fair_share(*, now) -> int:
    """Threads for this chunk: the cap shared among the chunks running now (one per worker).

    Every thread holds a global slot, so more threads than this would only wait for the
    slots the other workers hold.
    """
    running = QueuedCheck.objects.filter(lease_until__gt=now).values("worker").distinct().count()
    return max(1, -(-settings.XERO_MAX_CONCURRENT_CALLS // max(1, running)))


def _claim_history_rows(sites, *, now) -> dict[int, ConnectionTest]:
    """Start a running history row for each Site not tested within the cooldown, at once.

    The Sites are locked as ``services._connection_test_claim`` locks one, so a click on
    *Test connection* and the chunk take turns.
    """
    if not sites:
        return {}
    ids = [site.pk for site in sites]
    cooldown = now - datetime.timedelta(seconds=settings.XERO_TEST_COOLDOWN)
    with transaction.atomic():
        list(Site.objects.select_for_update().filter(pk__in=ids).values_list("pk"))
        recent = set(
            ConnectionTest.objects.filter(site_id__in=ids, started_at__gt=cooldown).values_list(
                "site_id", flat=True
            )
        )
        rows = ConnectionTest.objects.start_running(
            [site for site in sites if site.pk not in recent], now=now
        )
    return {row.site_id: row for row in rows}


class _Heartbeat(threading.Thread):
    """Renews the chunk's lease every third of it, and deletes the rows of finished Sites,
    so that a Site whose result is recorded is not queued again if the worker dies next."""

    def __init__(self, *, worker, lease: datetime.timedelta):
        super().__init__(name="xero-fleet-lease", daemon=True)
        self.worker, self.lease = worker, lease
        self.finished: list[Any] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def done(self, site_id: int) -> None:
        with self.lock:
            self.finished.append(site_id)

    def run(self):
        try:
            while not self.stopping.wait(self.lease.total_seconds() / 3):
                try:
                    self.beat()
                except Exception:
                    # The next beat tries again, on a new connection if this one broke; a
                    # lease that lapses meanwhile only means the chunk's other Sites are
                    # queued again (this run's results for them are refused: ``fence``).
                    logger.exception("Could not renew the lease of %s", self.worker)
                    try:
                        _close_if_broken()
                    except Exception:
                        logger.exception("Could not close the broken connection")
        finally:
            connection.close()

    def beat(self):
        self.forget_finished()
        # Only a lease still held is renewed: one that lapsed (this process was paused)
        # may be another worker's now, and this run's results are refused (``fence``).
        now = timezone.now()
        QueuedCheck.objects.filter(worker=self.worker, lease_until__gt=now).update(
            lease_until=now + self.lease
        )

    def forget_finished(self):
        with self.lock:
            finished, self.finished = self.finished, []
        if finished:
            QueuedCheck.objects.filter(worker=self.worker, site_id__in=finished).delete()

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join()
