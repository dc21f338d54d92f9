"""The fleet's threads: kept between chunks, each with its own database connection.

A fleet run (``xero/fleet.py``) hands this pool one job per thread it may use and waits for
them. A thread outlives its job, so the next chunk finds its connections to the database
and to Xero (``transport.connections_kept_by_thread``) open; it ends, closing them, after
``ThreadPool.IDLE_SECONDS`` idle.
"""

import logging
import queue
import threading
from typing import Any

from django.db import connection

from . import transport

logger = logging.getLogger(__name__)


class ThreadPool:
    """Threads that outlive a chunk, each keeping its database connection until it has
    been idle ``IDLE_SECONDS`` (then it closes the connection and ends)."""

    IDLE_SECONDS = 3

    def __init__(self):
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.threads: set[threading.Thread] = set()
        self.threads_lock = threading.Lock()

    def new_jobs(self) -> "Jobs":
        """A set of jobs to run in the pool's threads, one thread each, and wait for."""
        return Jobs(self)

    def submit(self, context, function, jobs: "Jobs") -> None:
        with self.threads_lock:
            self.threads = {thread for thread in self.threads if thread.is_alive()}
            if len(self.threads) < jobs.count:
                thread = threading.Thread(
                    target=self._loop, name=f"xero-fleet-{len(self.threads)}", daemon=True
                )
                self.threads.add(thread)
                thread.start()
            # Under the lock, so an idle thread about to end sees the job and stays.
            self.jobs.put((context, function, jobs))

    def _loop(self):
        try:
            with transport.connections_kept_by_thread():
                self._run_jobs()
        finally:
            connection.close()

    def _run_jobs(self):
        while True:
            try:
                context, function, jobs = self.jobs.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self.threads_lock:
                    # A job may have been put for this thread meanwhile: check again.
                    if self.jobs.empty():
                        self.threads.discard(threading.current_thread())
                        return
                continue
            if function is None:  # stop()
                return
            try:
                # A connection left broken (the database restarted) is not reused.
                if connection.errors_occurred and not connection.is_usable():
                    connection.close()
                context.run(function)
            except Exception:
                # The job's own faults are its to handle; one that escapes must not end
                # the thread (and its database connection) with a job still counted.
                logger.exception("A fleet thread's job failed")
            finally:
                jobs.done()

    def stop(self) -> None:
        """End every idle thread now, closing its database connection (for tests, whose
        database is dropped at the end)."""
        with self.threads_lock:
            threads = list(self.threads)
            self.threads = set()
        for _ in threads:
            self.jobs.put((None, None, None))
        for thread in threads:
            thread.join()


class Jobs:
    """A set of jobs run in a pool's threads, one thread each; ``wait`` until all are done."""

    def __init__(self, pool: ThreadPool):
        self.pool = pool
        self.count = 0
        self.changed = threading.Condition()

    def add(self, context, function) -> None:
        with self.changed:
            self.count += 1
        self.pool.submit(context, function, self)

    def done(self) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait(self) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.count == 0)


# One per process: a fleet run's threads and their database connections serve the next.
shared = ThreadPool()
