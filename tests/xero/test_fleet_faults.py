"""The fleet queue heals itself after real faults (issue 29): real ``db_worker`` processes
on the test database, the fake Xero over HTTP, and no ``xero_check_fleet`` after the fault.

Each test asserts that every Site ends with exactly one passing verdict, with nothing left
running or queued, and no alert. Times are polled for, never slept: the limits are generous
because the machine running them may be loaded.
"""

import datetime
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from xero.models import Alert, ConnectionTest, QueuedCheck
from xero.tasks import fleet_checks_enqueue

from .test_tasks_workers import nothing_left_running_or_queued
from .workers import (
    ROOT,
    database_url,
    freeze_outside_a_transaction,
    fresh_passes,
    private_fleet,
    wait_for,
    worker_environment,
)
from .workers import (
    assert_each_site_passed_once as each_site_passed_once,
)

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 2
# Polled for, under load: a batch of 40 Sites takes seconds on an idle machine, and more
# than 50 s under CI's full load (seen once on PostgreSQL, the last chunk still running).
LIMIT = 120
WORKER = ("db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2")


@pytest.fixture
def fleet(make_site, issue_certificate, fake_xero_settings, settings, tmp_path):
    """40 Sites that passed an hour ago, in chunks of 4; each call 0.3 s."""
    settings.XERO_CHECK_CHUNK_SIZE = 4
    settings.XERO_CHECK_LEASE = LEASE
    fake_xero_settings.latency = 0.3
    fake_xero_settings.enforce_limits = True
    sites = private_fleet(make_site, issue_certificate, fake_xero_settings, 40)
    an_hour_ago = timezone.now() - datetime.timedelta(hours=1)
    ConnectionTest.objects.bulk_create(
        ConnectionTest(site=site, outcome="ok", started_at=an_hour_ago) for site in sites
    )
    workers = []

    def worker(name, **extra):
        environment = worker_environment(
            fake_xero_settings,
            **{
                "XERO_CHECK_CHUNK_SIZE": 4,
                "XERO_MAX_CONCURRENT_CALLS": 4,
                "XERO_CHECK_LEASE": LEASE,
                "XERO_CONNECT_TIMEOUT": 1,
                "XERO_READ_TIMEOUT": 2,
                # The fake answers within a second or two of a call we gave up on.
                "XERO_ABANDONED_CALL_SECONDS": 3,
                # The sweeps' and back-offs' warnings, for a failure's message.
                "LOG_LEVEL": "WARNING",
                **extra,
            },
        )
        # Its log to a file: a fault's tracebacks would fill a pipe nobody reads, and
        # block the worker writing them.
        log = open(tmp_path / f"{name}.log", "w+")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            [sys.executable, "manage.py", *WORKER, "--worker-id", name],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        workers.append((process, log))
        LOGS[process.pid] = log.name
        return process

    yield sites, worker
    for process, log in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait()
        log.close()


def batch_done():
    return (
        not QueuedCheck.objects.exists()
        and not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()
    )


# Each worker's log file, by process id: a failure's message ends with its last lines.
LOGS: dict[int, str] = {}


def wait_for_the_batch(process):
    try:
        wait_for(batch_done, what="the batch finished", process=process, limit=LIMIT)
    except AssertionError as error:
        left = list(QueuedCheck.objects.values_list("chunk", "worker", "lease_until"))
        tasks = list(DBTaskResult.objects.values_list("status", "args_kwargs", "worker_ids"))
        with open(LOGS[process.pid]) as log:
            tail = log.read()[-4000:]
        raise AssertionError(
            f"{error} at {timezone.now()}; queued {left}; tasks {tasks}; log: {tail}"
        ) from None


def stop(process):
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=LIMIT) == 0
    with open(LOGS[process.pid]) as log:
        said = log.read()
    # Whatever the fault, no thread of the worker died of it (a fleet thread used to).
    assert "Exception in thread" not in said, said[-6000:]


def assert_each_site_passed_once(sites, since):
    each_site_passed_once(sites, since)
    nothing_left_running_or_queued()  # the database queue's tasks too


def test_a_worker_killed_late_in_a_batch_is_healed_by_the_next_worker_without_cron(fleet):
    sites, worker = fleet
    started = timezone.now()
    fleet_checks_enqueue()
    first = worker("first")
    wait_for(lambda: len(fresh_passes(started)) >= 30, what="30 Sites tested", process=first)
    first.kill()
    first.wait()
    assert QueuedCheck.objects.exists()  # the kill left work behind
    # What systemd does: start the worker again. No xero_check_fleet.
    second = worker("second")
    killed = time.monotonic()
    wait_for_the_batch(second)
    healed_in = time.monotonic() - killed
    stop(second)
    assert_each_site_passed_once(sites, started)
    print(f"healed {healed_in:.1f} s after the kill (lease {LEASE} s)")


def test_a_worker_frozen_past_its_lease_records_nothing_and_blames_no_one(fleet):
    sites, worker = fleet
    started = timezone.now()
    fleet_checks_enqueue()
    frozen = worker("frozen")
    wait_for(lambda: len(fresh_passes(started)) >= 4, what="4 Sites tested", process=frozen)
    # What a VM pause or a swap storm does: the whole process stops, its calls mid-way.
    freeze_outside_a_transaction(
        lambda: frozen.send_signal(signal.SIGSTOP), lambda: frozen.send_signal(signal.SIGCONT)
    )
    other = worker("other")
    wait_for_the_batch(other)
    # It wakes past its lease and its calls' deadline: its results must not count.
    frozen.send_signal(signal.SIGCONT)
    stop(frozen)
    stop(other)
    assert_each_site_passed_once(sites, started)


def test_a_worker_frozen_within_its_lease_calls_it_a_stall_of_ours_not_a_timeout(
    fleet, fake_xero_settings, settings
):
    sites, worker = fleet
    fake_xero_settings.latency = 1.0
    started = timezone.now()
    fleet_checks_enqueue(site_ids=[site.pk for site in sites[:16]])
    # A lease far longer than the freeze: this run still holds its Sites when it wakes.
    paused = worker("paused", XERO_CHECK_LEASE=120)
    wait_for(lambda: len(fresh_passes(started)) >= 1, what="a Site tested", process=paused)
    # Frozen while the fake Xero (in this process) holds one of its calls.
    wait_for(lambda: fake_xero_settings.in_flight >= 1, what="a call out", process=paused)
    paused.send_signal(signal.SIGSTOP)
    # Past the calls' 3 s budget and the 5 s a late time-out may take.
    time.sleep(10)
    paused.send_signal(signal.SIGCONT)
    wait_for_the_batch(paused)
    stop(paused)

    outcomes = Counter(
        ConnectionTest.objects.filter(started_at__gt=started).values_list("outcome", flat=True)
    )
    # Calls were out when it froze: the freeze shows as the Warehouse's own trouble, stalled
    # (a call cut at the deadline it slept through) or busy (the save's budget went with the
    # freeze), unless every answer had arrived before it woke (its results then stand).
    ours = outcomes["warehouse_stalled"] + outcomes["warehouse_busy"]
    assert ours >= 1 or set(outcomes) == {"ok"}, outcomes
    # Never blamed on Xero: every outcome is a pass or says nothing about the Site.
    assert set(outcomes) <= {"ok", *ConnectionTest.Outcome.not_a_verdict()}, outcomes
    assert fresh_passes(started) == {site.pk: 1 for site in sites[:16]}
    assert not Alert.objects.exists(), (
        list(Alert.objects.values("kind", "key", "subject", "site_id")),
        list(
            ConnectionTest.objects.filter(site_id__in=Alert.objects.values("site_id")).values_list(
                "pk", "outcome", "started_at", "latency_ms", "message"
            )
        ),
        started,
    )
    nothing_left_running_or_queued()


def test_checks_whose_tasks_the_queue_lost_are_queued_again_by_a_worker(fleet):
    sites, worker = fleet
    started = timezone.now()
    fleet_checks_enqueue()
    DBTaskResult.objects.all().delete()  # the queue lost its jobs while no worker ran
    alone = worker("alone")
    wait_for_the_batch(alone)
    stop(alone)
    assert_each_site_passed_once(sites, started)


def terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_worker_outlives_its_database_connections_terminated_again_and_again(fleet):
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    sites, worker = fleet
    started = timezone.now()
    fleet_checks_enqueue()
    survivor = worker("survivor")
    wait_for(lambda: len(fresh_passes(started)) >= 4, what="4 Sites tested", process=survivor)
    terminated = 0
    for _ in range(10):  # a database restarting under it, 10 times in 3 s
        terminated += terminate_other_connections()
        time.sleep(0.3)
    assert terminated
    wait_for_the_batch(survivor)
    assert survivor.poll() is None  # still running
    stop(survivor)
    assert_each_site_passed_once(sites, started)


# A database stopped this long (issue 29: both workers exited after a 20 s outage).
OUTAGE = 20


@pytest.fixture
def outage_proxy():
    """A relay between the workers and PostgreSQL that the test stops and starts again
    (``outage_proxy.py``); its port."""
    database = connection.settings_dict
    proxy = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("outage_proxy.py")),
         database["HOST"] or "127.0.0.1", str(database["PORT"] or 5432)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proxy.stdout is not None
    port = int(proxy.stdout.readline())
    yield proxy, port
    proxy.kill()
    proxy.wait()


def test_workers_outlive_the_database_stopped_for_20_seconds(fleet, outage_proxy):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite is a file: there is no server to stop")
    sites, worker = fleet
    proxy, port = outage_proxy
    through_the_proxy = database_url().replace(
        f"@{connection.settings_dict['HOST']}:{connection.settings_dict['PORT'] or 5432}/",
        f"@127.0.0.1:{port}/",
    )
    started = timezone.now()
    fleet_checks_enqueue()
    workers = [worker(name, DATABASE_URL=through_the_proxy) for name in ("one", "two")]
    wait_for(lambda: len(fresh_passes(started)) >= 8, what="8 Sites tested", process=workers[0])
    proxy.send_signal(signal.SIGUSR1)  # the database stops: connections cut, new ones refused
    time.sleep(OUTAGE)
    assert [process.poll() for process in workers] == [None, None]
    proxy.send_signal(signal.SIGUSR2)  # and starts again
    back = time.monotonic()
    wait_for_the_batch(workers[0])
    healed_in = time.monotonic() - back
    assert [process.poll() for process in workers] == [None, None]  # both still running
    for process in workers:
        stop(process)
    assert_each_site_passed_once(sites, started)
    for process in workers:  # each met the outage, and said so
        with open(LOGS[process.pid]) as log:
            assert "trying again" in log.read()
    print(f"finished {healed_in:.1f} s after the database came back (lease {LEASE} s)")


# A disk full this long (issue 29: 151 Sites orphaned after a 30 s full disk).
FULL = 30


@pytest.fixture
def small_disk(fleet, tmp_path):
    """The test database moved onto a disk of its own, a 64 MB tmpfs the test can fill: a
    real full disk, with SQLite's own "database or disk is full". Returns a function that
    fills it and returns a function that frees it.

    SQLite only: PostgreSQL's files are its server's, shared with every other test.
    """
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's files are the shared server's: there is no disk to fill")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"no disk of its own can be mounted here: {mounted.stderr.strip()}")
    database = connection.settings_dict
    original = database["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(disk / "test.sqlite3")])
    connection.close()
    database["NAME"] = str(disk / "test.sqlite3")

    def fill():
        filler = disk / "filler"
        # Unbuffered: a buffer left over when the disk is full would fail again at close.
        with open(filler, "wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\1" * 65536)
            except OSError:  # ENOSPC: the disk is full
                pass
        return filler.unlink

    try:
        yield fill
    finally:
        connection.close()
        database["NAME"] = original
        # Lazily: a worker the test left running may still have the file open.
        subprocess.run(["umount", "--lazy", str(disk)], check=False)


def test_a_worker_outlives_a_full_disk_and_the_batch_finishes_once_it_is_freed(
    fleet, fake_xero_settings, small_disk
):
    sites, worker = fleet
    fake_xero_settings.latency = 1.0
    started = timezone.now()
    fleet_checks_enqueue()
    survivor = worker("survivor")
    wait_for(lambda: len(fresh_passes(started)) >= 4, what="4 Sites tested", process=survivor)
    free = small_disk()
    time.sleep(FULL)
    assert survivor.poll() is None  # still running
    free()
    freed = time.monotonic()
    wait_for_the_batch(survivor)
    healed_in = time.monotonic() - freed
    stop(survivor)
    assert_each_site_passed_once(sites, started)
    with open(LOGS[survivor.pid]) as log:
        said = log.read()
    assert "disk is full" in said  # the fault bit
    print(f"finished {healed_in:.1f} s after the disk was freed (lease {LEASE} s)")
