"""xero/pool.py: a fleet thread outlives its job, and so do its connections to Xero."""

import contextvars
import threading

import requests

from xero import transport
from xero.pool import ThreadPool

from .conftest import connections_made


def test_a_thread_sends_its_next_job_through_the_connection_its_last_job_opened(fake_xero):
    threads = ThreadPool()
    seen = []

    def run():
        # A fleet run's job: its calls to Xero within connections_kept (xero/fleet.py).
        with transport.connections_kept():
            session = requests.Session()
            transport.mount(session)
            status = session.get(fake_xero.url + "/api.xro/2.0/Organisation", timeout=5).status_code
            seen.append((threading.current_thread(), status, connections_made(session), session))

    try:
        for _ in range(2):
            jobs = threads.new_jobs()
            jobs.add(contextvars.copy_context(), run)
            jobs.wait()
    finally:
        threads.stop()

    (first_thread, *_), (second_thread, status, connections, session) = seen
    assert second_thread is first_thread
    # The fake refuses the unsigned call; what counts is the connection it came through.
    assert status == 401
    assert connections == [(1, 2)]
    # The thread's end closed it.
    assert connections_made(session) == []
