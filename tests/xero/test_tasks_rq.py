"""The larger deployment's task backend, RQ on Redis, switched on by settings alone.

Runs the real commands in subprocesses against a Redis of the test run's own and the test
database, calling the test's fake Xero. Each pytest-xdist worker (each run, when two run
on one machine) starts its own ``redis-server`` on a Unix socket in its temporary folder,
with no TCP port and nothing saved: no run shares a queue with another, and emptying it
between tests touches nobody else's data. Skipped when ``redis-server`` is not installed.
"""

import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from xero.models import ConnectionTest, QueuedCheck

from .workers import manage, private_fleet, start, worker_environment

pytest.importorskip("django_tasks_rq")
redis = pytest.importorskip("redis")
rq = pytest.importorskip("rq")

REDIS_SERVER = shutil.which("redis-server")
# A Unix socket's path must fit in sockaddr_un (108 bytes on Linux).
SOCKET_PATH_MAX = 100

pytestmark = [
    pytest.mark.skipif(
        REDIS_SERVER is None, reason="redis-server is not installed (Debian: redis-server)"
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """The URL of a Redis of this worker's own, started for the session and stopped after."""
    folder = tmp_path_factory.mktemp("redis")
    with tempfile.TemporaryDirectory(prefix="redis-") as short:
        sock = folder / "redis.sock"
        if len(str(sock)) > SOCKET_PATH_MAX:
            sock = Path(short) / "redis.sock"
        log = folder / "redis.log"
        server = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(folder),
                "--logfile", str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"unix://{sock}?db=0"
        try:
            _wait_until_it_answers(server, url, log)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_until_it_answers(server, url: str, log: Path, limit: float = 30) -> None:
    give_up = time.monotonic() + limit
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > give_up:
                words = log.read_text() if log.exists() else ""
                pytest.fail(f"redis-server did not start (exit {server.poll()}): {words[-2000:]}")
            time.sleep(0.05)


@pytest.fixture
def redis_database(redis_server):
    """This worker's Redis, empty before and after the test (nobody else uses it)."""
    queue = redis.Redis.from_url(redis_server)
    queue.flushdb()
    yield queue
    queue.flushdb()


@pytest.fixture
def rq_environment(fake_xero_settings, redis_server, redis_database):
    queue = redis_database
    environment = worker_environment(
        fake_xero_settings,
        TASKS_BACKEND="django_tasks_rq.RQBackend",
        REDIS_URL=redis_server,
        XERO_CHECK_CHUNK_SIZE=4,
        XERO_MAX_CONCURRENT_CALLS=2,
    )
    return environment, queue


RQ_WORKER = ("rqworker", "default", "--burst", "--job-class", "django_tasks_rq.Job")


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
    rq_environment, make_site, tmp_path
):
    environment, _ = rq_environment
    make_site()
    nobody = f"unix://{tmp_path}/no-redis-here.sock"
    refused = manage({**environment, "REDIS_URL": nobody}, "xero_check_fleet", check=False)
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "REDIS_URL" in refused.stderr and "Traceback" not in refused.stderr
    assert not QueuedCheck.objects.exists()
