"""Real db_worker processes share a batch, and a killed one loses no Site (xero/tasks.py).

The workers are subprocesses on the test database (SQLite file or PostgreSQL), calling the
fake Xero of the test over HTTP.
"""

import signal
import time
from collections import Counter

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from xero.models import ConnectionTest, QueuedCheck
from xero.tasks import fleet_checks_enqueue

from .workers import DB_WORKER, manage, private_fleet, start, wait_for, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1


@pytest.fixture
def fleet(make_site, issue_certificate, fake_xero_settings, settings):
    """40 Sites in chunks of 4, 2 calls at once, each call 0.2 s: a batch of seconds."""
    settings.XERO_CHECK_CHUNK_SIZE = 4
    fake_xero_settings.latency = 0.2
    fake_xero_settings.enforce_limits = True
    sites = private_fleet(make_site, issue_certificate, fake_xero_settings, 40)
    environment = worker_environment(
        fake_xero_settings,
        XERO_CHECK_CHUNK_SIZE=4,
        XERO_MAX_CONCURRENT_CALLS=2,
        XERO_CHECK_LEASE=LEASE,
    )
    return sites, environment


def counted_tests(**filters) -> Counter:
    return Counter(ConnectionTest.objects.filter(**filters).values_list("site_id", flat=True))


def nothing_left_running_or_queued():
    assert not ConnectionTest.objects.filter(outcome=ConnectionTest.Outcome.RUNNING).exists()
    assert not QueuedCheck.objects.exists()
    assert not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()


def test_two_workers_share_one_batch_and_test_each_site_once(fleet, fake_xero_settings):
    sites, environment = fleet
    fleet_checks_enqueue()
    workers = [start(environment, *DB_WORKER, "--worker-id", f"w{n}") for n in range(2)]
    for worker in workers:
        assert worker.wait(timeout=300) == 0, worker.stderr.read()

    assert counted_tests(outcome="ok") == {site.pk: 1 for site in sites}
    ran_chunks = Counter(
        worker
        for ids in DBTaskResult.objects.values_list("worker_ids", flat=True)
        for worker in ids
    )
    assert set(ran_chunks) == {"w0", "w1"}
    assert fake_xero_settings.max_concurrent <= 2  # the cap holds across both processes
    nothing_left_running_or_queued()


def test_a_worker_killed_mid_batch_loses_no_site(fleet):
    sites, environment = fleet
    fleet_checks_enqueue()
    worker = start(environment, *DB_WORKER)
    wait_for(
        lambda: ConnectionTest.objects.filter(outcome="ok").count() >= 6,
        what="six Sites tested",
        process=worker,
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = timezone.now()
    assert QueuedCheck.objects.exists()  # the kill left work behind
    time.sleep(LEASE + 0.5)  # until its lease lapses; nothing here is timed

    report = manage(environment, "xero_check_fleet").stdout
    assert "re-queued after a worker stopped" in report
    assert " 0 re-queued" not in report
    assert manage(environment, *DB_WORKER).returncode == 0

    assert counted_tests(started_at__gt=killed_at) == {site.pk: 1 for site in sites}
    assert counted_tests(started_at__gt=killed_at, outcome="ok") == {site.pk: 1 for site in sites}
    # What the dead worker had in flight is said to be interrupted, not left running.
    outcomes = set(
        ConnectionTest.objects.filter(started_at__lte=killed_at).values_list("outcome", flat=True)
    )
    assert outcomes <= {"ok", ConnectionTest.Outcome.INTERRUPTED}
    nothing_left_running_or_queued()
