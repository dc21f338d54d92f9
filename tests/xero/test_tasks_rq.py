"""The larger deployment's task backend, RQ on Redis, switched on by settings alone.

Runs the real commands in subprocesses against a Redis of the test run's own and the test
database, calling the test's fake Xero. Each pytest-xdist worker (each run, when two run
on one machine) starts its own ``redis-server`` on a Unix socket in its temporary folder,
with no TCP port and nothing saved: no run shares a queue with another, and emptying it
between tests touches nobody else's data. Skipped when ``redis-server`` is not installed.

The fault tests of issue 29 with RQ (``operations/rq_worker.py``) stop, empty and freeze
that server, and kill workers, as ``test_fleet_faults.py`` does for ``db_worker``.
"""

import contextlib
import datetime
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from operations import counters
from xero.models import ConnectionTest, QueuedCheck

from .workers import (
    ROOT,
    assert_each_site_passed_once,
    freeze_outside_a_transaction,
    fresh_passes,
    manage,
    private_fleet,
    start,
    wait_for,
    worker_environment,
)

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


class RedisServer:
    """A ``redis-server`` of this test worker's own on a Unix socket, which the fault tests
    stop, start again (empty, as nothing is saved) and freeze."""

    def __init__(self, folder: Path, sock: Path):
        self.folder, self.sock, self.log = folder, sock, folder / "redis.log"
        self.url = f"unix://{sock}?db=0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port", "0",
                "--unixsocket", str(self.sock),
                "--unixsocketperm", "700",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.folder),
                "--logfile", str(self.log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_until_it_answers(self.process, self.url, self.log)

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        self.process.wait(timeout=30)

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def ensure_running(self) -> None:
        """Whatever a failed fault test left: running and awake."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        else:
            self.thaw()


@pytest.fixture(scope="session")
def redis_process(tmp_path_factory):
    """This worker's Redis, started for the session and stopped after."""
    folder = tmp_path_factory.mktemp("redis")
    with tempfile.TemporaryDirectory(prefix="redis-") as short:
        sock = folder / "redis.sock"
        if len(str(sock)) > SOCKET_PATH_MAX:
            sock = Path(short) / "redis.sock"
        server = RedisServer(folder, sock)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def redis_server(redis_process):
    """The URL of this worker's Redis."""
    return redis_process.url


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
def redis_database(redis_process, redis_server):
    """This worker's Redis, empty before and after the test (nobody else uses it)."""
    redis_process.ensure_running()
    queue = redis.Redis.from_url(redis_server)
    queue.flushdb()
    yield queue
    redis_process.ensure_running()
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


# The fault tests (issue 29) with RQ: long-running rqworkers (operations/rq_worker.py, as
# `manage.py rqworker` builds it from the settings) and no xero_check_fleet after the
# fault. Polled for, never slept: the limits are generous because the machine running
# them may be loaded.
LEASE = 2
LIMIT = 120
RQ_SERVICE = ("rqworker", "default", "--job-class", "django_tasks_rq.Job")


@pytest.fixture
def rq_fleet(rq_environment, make_site, issue_certificate, fake_xero_settings, tmp_path):
    """40 Sites that passed an hour ago, in chunks of 4, each call 0.3 s; and ``worker(name)``
    to start a long-running rqworker (stopped at the end), its log in a file."""
    environment, queue = rq_environment
    environment = {
        **environment,
        "XERO_MAX_CONCURRENT_CALLS": "4",
        "XERO_CHECK_LEASE": str(LEASE),
        "XERO_CONNECT_TIMEOUT": "1",
        "XERO_READ_TIMEOUT": "2",
        "XERO_ABANDONED_CALL_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
        "PYTHONFAULTHANDLER": "1",
    }
    fake_xero_settings.latency = 0.3
    fake_xero_settings.enforce_limits = True
    sites = private_fleet(make_site, issue_certificate, fake_xero_settings, 40)
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    ConnectionTest.objects.bulk_create(
        ConnectionTest(site=site, outcome="ok", started_at=an_hour_ago) for site in sites
    )
    workers = []

    def worker(name):
        # Its log to a file: a fault's tracebacks would fill a pipe nobody reads.
        log = open(tmp_path / f"{name}.log", "w+")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            [sys.executable, "manage.py", *RQ_SERVICE, "--name", name],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        workers.append((process, log))
        LOGS[process.pid] = tmp_path / f"{name}.log"
        return process

    yield sites, environment, queue, worker
    for process, log in workers:
        if process.poll() is None:
            kill_tree(process.pid)
            process.wait()
        log.close()


def kill_tree(pid: int) -> None:
    """SIGKILL a worker and its work horse (RQ forks one per job, in a process group of
    its own): what a machine dying does."""
    for child in _children(pid):
        kill_tree(child)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except FileNotFoundError:
        return []


def wait_for_the_batch(process, queue) -> None:
    def done():
        return (
            not QueuedCheck.objects.exists()
            and not ConnectionTest.objects.filter(outcome="running").exists()
            and queue.llen("rq:queue:default") == 0
        )

    try:
        wait_for(done, what="the batch finished", process=process, limit=LIMIT)
    except AssertionError as error:
        left = list(QueuedCheck.objects.values_list("chunk", "worker", "lease_until"))
        raise AssertionError(f"{error} at {timezone.now()}; queued {left}") from None


def log_of(process, tmp_path, name) -> str:
    return (tmp_path / f"{name}.log").read_text()


# Each worker's log file, by process id: a worker that does not stop says where it is.
LOGS: dict[int, Path] = {}


def stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=LIMIT) == 0
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack
        process.wait()
        raise AssertionError(
            f"the worker did not stop: {LOGS[process.pid].read_text()[-6000:]}"
        ) from None
    said = LOGS[process.pid].read_text()
    # Whatever the fault, no thread of the worker died of it (a fleet thread used to).
    assert "Exception in thread" not in said, said[-6000:]


def test_checks_whose_jobs_redis_lost_are_run_by_the_first_rq_worker_without_cron(rq_fleet):
    sites, environment, queue, worker = rq_fleet
    started = timezone.now()
    assert manage(environment, "xero_check_fleet").stdout.startswith("Queued 40 Site checks;")
    queue.flushdb()  # Redis lost its jobs while no worker ran
    first = worker("first")
    healing = time.monotonic()
    wait_for_the_batch(first, queue)
    healed_in = time.monotonic() - healing
    stop(first)
    assert_each_site_passed_once(sites, started)
    print(f"healed {healed_in:.1f} s after the worker started (lease {LEASE} s)")


def test_an_rq_worker_killed_late_in_a_batch_is_healed_by_the_next_without_cron(rq_fleet):
    sites, environment, queue, worker = rq_fleet
    started = timezone.now()
    manage(environment, "xero_check_fleet")
    first = worker("first")
    # Late: the next worker finds no chunk left to start, so only its sweep can heal.
    wait_for(lambda: len(fresh_passes(started)) >= 32, what="32 Sites tested", process=first)
    kill_tree(first.pid)
    first.wait()
    assert QueuedCheck.objects.exists()  # the kill left work behind
    # What systemd does: start the worker again. No xero_check_fleet.
    second = worker("second")
    killed = time.monotonic()
    wait_for_the_batch(second, queue)
    healed_in = time.monotonic() - killed
    stop(second)
    assert_each_site_passed_once(sites, started)
    print(f"healed {healed_in:.1f} s after the kill (lease {LEASE} s)")


def signal_tree(pid: int, number: int) -> None:
    """Send ``number`` to a worker and its work horse (SIGSTOP: what a VM pause does)."""
    for child in _children(pid):
        signal_tree(child, number)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def test_an_rq_worker_frozen_past_its_lease_records_nothing_and_blames_no_one(rq_fleet):
    sites, environment, queue, worker = rq_fleet
    started = timezone.now()
    manage(environment, "xero_check_fleet")
    frozen = worker("frozen")
    wait_for(lambda: len(fresh_passes(started)) >= 4, what="4 Sites tested", process=frozen)
    freeze_outside_a_transaction(
        lambda: signal_tree(frozen.pid, signal.SIGSTOP),
        lambda: signal_tree(frozen.pid, signal.SIGCONT),
    )
    other = worker("other")
    wait_for_the_batch(other, queue)
    # It wakes past its lease and its calls' deadline: its results must not count.
    signal_tree(frozen.pid, signal.SIGCONT)
    stop(frozen)
    stop(other)
    assert_each_site_passed_once(sites, started)


def test_an_rq_worker_outlives_redis_stopped_and_started_again_empty(
    rq_fleet, redis_process, tmp_path
):
    sites, environment, queue, worker = rq_fleet
    started = timezone.now()
    manage(environment, "xero_check_fleet")
    survivor = worker("survivor")
    wait_for(lambda: len(fresh_passes(started)) >= 8, what="8 Sites tested", process=survivor)
    redis_process.stop()
    down = time.monotonic()
    # Down until the worker has met it (a worker busy with a chunk calls Redis only
    # between jobs and at its heartbeats), and for 3 s at least.
    wait_for(
        lambda: "Redis failed; trying again" in log_of(survivor, tmp_path, "survivor"),
        what="the worker meeting Redis down",
        process=survivor,
        limit=LIMIT,
    )
    time.sleep(max(0.0, 3 - (time.monotonic() - down)))
    assert survivor.poll() is None
    redis_process.start()  # empty: the queue's jobs are gone with it
    wait_for_the_batch(survivor, queue)
    assert survivor.poll() is None  # still running
    stop(survivor)
    assert_each_site_passed_once(sites, started)
    # Counted for /metrics (warehouse_worker_errors_total{part="redis"}).
    assert counters.values()['worker_errors_total{part="redis"}'] >= 1


# A command pushing a job onto the queue's list (RESP: the command, then its key).
PUSH_ONTO_THE_QUEUE = re.compile(rb"[LR]PUSH\r\n\$\d+\r\nrq:queue:")


class FreezeAtEnqueue:
    """A relay on a Unix socket in front of the test's ``redis-server`` that freezes the
    server (SIGSTOP, as a paused VM) just before it passes on the first command that
    pushes a job onto the queue: the client waits for an answer that comes too late, and
    the server takes the job once thawed. Frozen at that very command, not by the clock."""

    def __init__(self, server: RedisServer, path: Path):
        self.server, self.url = server, f"unix://{path}?db=0"
        self.frozen = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # closed at the end
            while True:
                client, _ = self.listener.accept()
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(str(self.server.sock))
                threading.Thread(
                    target=self._pass, args=(client, upstream, True), daemon=True
                ).start()
                threading.Thread(
                    target=self._pass, args=(upstream, client, False), daemon=True
                ).start()

    def _pass(self, source, target, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and PUSH_ONTO_THE_QUEUE.search(data) and not self.frozen.is_set():
                    self.server.freeze()
                    self.frozen.set()
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_an_enqueue_a_frozen_redis_takes_late_is_said_unconfirmed_and_tested_once(
    rq_fleet, redis_process, tmp_path
):
    sites, environment, queue, worker = rq_fleet
    started = timezone.now()
    relay = FreezeAtEnqueue(redis_process, Path(redis_process.sock).with_name("relay.sock"))
    try:
        queued = manage(
            {**environment, "REDIS_URL": relay.url, "REDIS_SOCKET_TIMEOUT": "1"},
            "xero_check_fleet",
            check=False,
        )
    finally:
        relay.close()
        redis_process.thaw()
    assert relay.frozen.is_set()
    # Thawed, Redis runs what it was sent: the first chunk's job, which the client gave
    # up waiting for.
    wait_for(lambda: queue.llen("rq:queue:default") >= 1, what="the job Redis took late")
    assert queued.returncode == 1
    # Never "0 queued": the checks are queued, and said to be in doubt.
    assert queued.stdout.startswith("Queued 40 Site checks;")
    said = " ".join(queued.stderr.split())
    assert "did not confirm 40 of the 40 Site checks" in said and "Traceback" not in said
    assert QueuedCheck.objects.count() == 40
    first = worker("first")
    wait_for_the_batch(first, queue)
    stop(first)
    # The chunk Redis took ran from its job, the others were queued again by the worker's
    # sweep (their jobs were never sent): each Site once.
    assert_each_site_passed_once(sites, started)
