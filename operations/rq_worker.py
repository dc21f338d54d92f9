"""The RQ worker of the larger deployment: it sweeps the fleet's queue, and outlives Redis.

``manage.py rqworker`` builds this class (``RQ["WORKER_CLASS"]`` in the settings, so the
command line stays RQ's own). It freezes its start-up out of the garbage collector before
its first fork (``operations/collector.py``), and adds two things to RQ's worker, through
RQ's own hooks rather than a loop of ours:

- **The sweep** (``xero.tasks.fleet_checks_heal``, as ``db_worker``'s sweep thread runs it)
  is one of RQ's maintenance tasks, due every half lease; an idle worker wakes from its
  wait for a job that often to run it, a busy one runs it between jobs. So the checks of a
  worker that died and those whose job Redis lost are queued again without cron. It runs
  in the worker's own process, never in a thread: RQ forks a work horse for each job, and
  a fork must not copy a thread caught mid-statement, nor the database connection (closed
  after each sweep, as django-rq closes it before the first fork).
- **Redis errors** (restarted, unreachable, timing out) are logged, counted
  (``warehouse_worker_errors_total{part="redis"}`` on ``/metrics``) and tried again after
  0.5, 1, 2 … 30 s, where RQ's loop would end the worker (RQ itself retries only the wait
  for a job). A job whose end Redis could not record is left to the fleet's leases: its
  Sites' results are recorded in the database, and a Site it did not finish is queued
  again when its lease lapses.
"""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.exceptions import StopRequested
from rq.worker import Worker

from . import counters
from .collector import settle_worker_process
from .sweep import MAX_BACKOFF_SECONDS, sweep_interval

logger = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)

T = TypeVar("T")


class FleetWorker(Worker):
    """RQ's forking worker, with the fleet's sweep among its maintenance tasks, that
    waits for Redis to come back instead of exiting."""

    next_sweep = 0.0
    sweep_pause = 0.0

    def work(self, *args: Any, **kwargs: Any) -> bool:
        # Before the first fork: every work horse inherits the frozen start-up.
        settle_worker_process()
        return super().work(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        # An idle worker wakes this often from its wait for a job, to sweep.
        return max(1, min(super().dequeue_timeout, int(sweep_interval())))

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return super().should_run_maintenance_tasks or time.monotonic() >= self.next_sweep

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            self._outliving_redis("clean RQ's registries", super().run_maintenance_tasks)
        if time.monotonic() >= self.next_sweep:
            self.sweep()

    def sweep(self) -> None:
        """Queue again the fleet checks nobody will run; never raises."""
        from xero.tasks import fleet_checks_heal

        try:
            requeued = fleet_checks_heal()
            if requeued:
                logger.warning("Worker %s queued %s checks again", self.name, requeued)
            self.sweep_pause = sweep_interval()
        except StopRequested:
            # RQ's signal handler raises it wherever an idle worker is (here, too): the
            # stop is RQ's to carry out, never a failed sweep to forget.
            raise
        except Exception:
            counters.add("worker_errors_total", {"part": "sweep"})
            self.sweep_pause = min(max(self.sweep_pause, sweep_interval()) * 2, MAX_BACKOFF_SECONDS)
            logger.warning(
                "Worker %s could not sweep the fleet queue; trying again in %.0f s",
                self.name,
                self.sweep_pause,
                exc_info=True,
            )
        finally:
            self.next_sweep = time.monotonic() + self.sweep_pause
            # What this process counted is written now, not copied into the next horse.
            counters.flush()
            # The next work horse is forked from this process: it must not share a
            # database connection with it.
            connections.close_all()

    def subscribe(self) -> None:
        # RQ's own, but its thread waits a second, not 60, for a command to the worker:
        # stopping waits for that wait (seen: a burst worker's exit took 60 s).
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def check_for_suspension(self, burst: bool) -> None:
        self._outliving_redis(
            "check for suspension", lambda: super(FleetWorker, self).check_for_suspension(burst)
        )

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        return self._outliving_redis(
            "wait for a job",
            lambda: super(FleetWorker, self).dequeue_job_and_maintain_ttl(timeout, max_idle_time),
        )

    def execute_job(self, job: Any, queue: Any) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS:
            self._redis_failed(f"record job {job.id}", FIRST_BACKOFF_SECONDS)

    def maintain_heartbeats(self, job: Any, execution: Any) -> None:
        # Missed while Redis is away; the horse goes on, and the next beat tries again.
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS:
            self._redis_failed(f"renew job {job.id}'s heartbeat", 0)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        try:
            super().heartbeat(timeout)
        except REDIS_ERRORS:
            self._redis_failed("renew its heartbeat", 0)

    def _outliving_redis(self, doing: str, call: Callable[[], T]) -> T:
        """``call()``, tried again with a growing pause while Redis fails."""
        pause = FIRST_BACKOFF_SECONDS
        while True:
            try:
                return call()
            except REDIS_ERRORS:
                if self._stop_requested:
                    raise
                self._redis_failed(doing, pause)
                pause = min(pause * 2, MAX_BACKOFF_SECONDS)

    def _redis_failed(self, doing: str, pause: float) -> None:
        counters.add("worker_errors_total", {"part": "redis"})
        logger.warning(
            "Worker %s could not %s: Redis failed; trying again in %.1f s",
            self.name,
            doing,
            pause,
            exc_info=True,
        )
        counters.flush()
        connections.close_all()
        time.sleep(pause)
