"""The larger deployment's task backend, RQ on Redis, switched on by settings alone.

Runs the real commands in subprocesses against the local Redis (database 14, emptied
before and after) and the test database, calling the test's fake Xero.
"""

import fcntl
import socket
from collections import Counter

import pytest

from xero.models import ConnectionTest, QueuedCheck

from .workers import manage, private_fleet, start, worker_environment

pytest.importorskip("django_tasks_rq")
redis = pytest.importorskip("redis")
rq = pytest.importorskip("rq")

REDIS_URL = "redis://127.0.0.1:6379/14"


def redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
    except OSError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379"),
    pytest.mark.django_db(transaction=True),
]

RQ_WORKER = ("rqworker", "default", "--burst", "--job-class", "django_tasks_rq.Job")


@pytest.fixture
def redis_database(tmp_path_factory):
    """Redis database 14, to one test at a time across pytest-xdist workers (each empties
    it before and after)."""
    lock_path = tmp_path_factory.getbasetemp().parent / "redis-14.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        queue = redis.Redis.from_url(REDIS_URL)
        queue.flushdb()
        yield queue
        queue.flushdb()


@pytest.fixture
def rq_environment(fake_xero_settings, redis_database):
    queue = redis_database
    environment = worker_environment(
        fake_xero_settings,
        TASKS_BACKEND="django_tasks_rq.RQBackend",
        REDIS_URL=REDIS_URL,
        XERO_CHECK_CHUNK_SIZE=4,
        XERO_MAX_CONCURRENT_CALLS=2,
    )
    return environment, queue


def test_two_rq_workers_share_a_batch_and_test_each_site_once(
    rq_environment, make_site, issue_certificate, fake_xero_settings
):
    environment, queue = rq_environment
    fake_xero_settings.latency = 0.2
    fake_xero_settings.enforce_limits = True
    sites = private_fleet(make_site, issue_certificate, fake_xero_settings, 40)

    assert manage(environment, "xero_check_fleet").stdout.startswith("Queued 40 Site checks;")
    assert queue.llen("rq:queue:default") == 10
    assert "0 Site checks; 40 already queued" in manage(environment, "xero_check_fleet").stdout

    workers = [start(environment, *RQ_WORKER) for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=300) == 0, worker.stderr.read()

    assert queue.llen("rq:queue:default") == 0
    tested = Counter(ConnectionTest.objects.filter(outcome="ok").values_list("site_id", flat=True))
    assert tested == {site.pk: 1 for site in sites}
    assert not QueuedCheck.objects.exists()
    finished = rq.Queue("default", connection=queue).finished_job_registry.get_job_ids()
    names = {rq.job.Job.fetch(job, connection=queue).worker_name for job in finished}
    assert len(finished) == 10 and len(names) == 2  # both workers took chunks
    assert fake_xero_settings.max_concurrent <= 2


def test_with_redis_down_the_cron_command_fails_in_one_line_and_queues_nothing(
    rq_environment, make_site
):
    environment, _ = rq_environment
    make_site()
    refused = manage(
        {**environment, "REDIS_URL": "redis://127.0.0.1:1/14"}, "xero_check_fleet", check=False
    )
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "REDIS_URL" in refused.stderr and "Traceback" not in refused.stderr
    assert not QueuedCheck.objects.exists()
