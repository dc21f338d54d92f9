"""/healthz and /readyz (operations): JSON per check, 200 or 503, no login."""

import datetime
import json
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from operations import readiness
from operations.heartbeat import beat
from operations.models import WorkerHeartbeat
from tests.environment import TEST_ENVIRONMENT, manage_environment
from tests.xero.workers import ROOT, database_url
from xero.models import QueuedCheck

NOW = timezone.now()


def readyz(client, **extra):
    response = client.get("/readyz", **extra)
    return response.status_code, json.loads(response.content)


@pytest.fixture
def worker_alive(db):
    beat(worker="w1", started_at=timezone.now())


def test_healthz_answers_without_the_database_a_login_or_a_known_host(client):
    # No database fixture: any query would fail the test.
    response = client.get("/healthz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_200_when_every_check_passes(client, worker_alive, site):
    status, body = readyz(client, HTTP_HOST="10.0.0.7")
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "migrations", "encryption", "workers", "queue"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["encryption"]["canaries"] >= 1


def test_readyz_is_503_without_a_worker_heartbeat(client, db):
    status, body = readyz(client)
    assert status == 503
    assert body["status"] == "failing"
    assert body["checks"]["workers"] == {
        "ok": False,
        "alive": 0,
        "last_heartbeat_seconds": None,
        "window_seconds": 60.0,
    }


def test_readyz_is_503_when_the_last_heartbeat_is_older_than_the_window(client, db, settings):
    settings.WORKER_HEARTBEAT_WINDOW = 30
    beat(worker="w1", started_at=NOW, now=timezone.now() - datetime.timedelta(seconds=45))
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["workers"]["ok"] is False
    assert 44 < body["checks"]["workers"]["last_heartbeat_seconds"] < 60


def test_readyz_is_503_when_a_migration_is_unapplied(client, worker_alive):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'operations'")
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["migrations"] == {"ok": False, "unapplied": 2}


def test_readyz_is_503_when_the_keys_cannot_decrypt_a_stored_secret(
    client, worker_alive, site, settings
):
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["encryption"] == {
        "ok": False,
        "error": "FIELD_ENCRYPTION_KEYS cannot decrypt",
    }


def test_readyz_is_503_when_the_oldest_queued_check_is_too_old(
    client, worker_alive, site, settings
):
    settings.READY_OLDEST_QUEUED_CHECK = 600
    QueuedCheck.objects.create(
        site=site,
        batch="00000000-0000-0000-0000-000000000001",
        chunk="00000000-0000-0000-0000-000000000002",
        queued_at=timezone.now() - datetime.timedelta(seconds=900),
    )
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["queue"]["ok"] is False
    assert 899 < body["checks"]["queue"]["oldest_seconds"] < 960


def test_readyz_reveals_no_site_secret_or_name(client, worker_alive, site):
    page = client.get("/readyz").content.decode()
    for revealing in (site.code, site.name, site.api_key, site.api_secret, "w1"):
        assert revealing not in page


def test_probes_need_no_login_or_second_factor_and_skip_the_https_redirect(
    client, worker_alive, settings
):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/admin/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_probes_refuse_writes(client, db):
    assert client.post("/readyz").status_code == 405


def test_a_failing_check_is_named_without_a_traceback(client, worker_alive, monkeypatch):
    def broken():
        raise RuntimeError("secret host db.internal:5432")

    monkeypatch.setattr(readiness, "migrations", broken)
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["migrations"] == {"ok": False, "error": "RuntimeError"}


def _start_worker() -> subprocess.Popen:
    environment = manage_environment(
        **{
            **TEST_ENVIRONMENT,
            "DATABASE_URL": database_url(),
            "WORKER_HEARTBEAT_INTERVAL": "0.5",
            "LOG_LEVEL": "ERROR",
        }
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_status(client, status: int, *, worker, limit: float = 60) -> float:
    started = time.monotonic()
    while readyz(client)[0] != status:
        if worker is not None and worker.poll() is not None and status == 200:
            raise AssertionError(f"the worker exited: {worker.stderr.read()}")
        if time.monotonic() - started > limit:
            raise AssertionError(f"/readyz never answered {status}: {readyz(client)[1]}")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_readyz_follows_a_real_db_worker_starting_stopping_and_dying(client, settings):
    settings.WORKER_HEARTBEAT_WINDOW = 3
    assert readyz(client)[0] == 503

    worker = _start_worker()
    try:
        _wait_for_status(client, 200, worker=worker)
        assert WorkerHeartbeat.objects.count() == 1

        # Stopped cleanly (systemd's SIGTERM): its row goes at once.
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        assert _wait_for_status(client, 503, worker=None, limit=5) < 5
        assert WorkerHeartbeat.objects.count() == 0

        worker = _start_worker()
        _wait_for_status(client, 200, worker=worker)

        # Killed: its last beat ages out within the window (3 s), plus 2 s for slow probes on
        # a loaded machine (with 1 s, the test once failed under a parallel run).
        worker.kill()
        worker.wait(timeout=30)
        assert _wait_for_status(client, 503, worker=None, limit=10) <= 3 + 2
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


@pytest.mark.django_db(transaction=True)
def test_readyz_reads_rq_workers_heartbeats_from_redis(client, settings, rq_environment):
    """The RQ variant: RQ keeps its workers' heartbeats in Redis; /readyz reads them."""
    environment, _queue = rq_environment
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": environment["REDIS_URL"]}}
    assert readyz(client)[1]["checks"]["workers"]["alive"] == 0

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default", "--job-class", "django_tasks_rq.Job"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_status(client, 200, worker=worker)
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # RQ's warm shutdown can sit in its blocking dequeue under load; a second SIGTERM
            # is its cold shutdown, which still registers the worker's death.
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        # RQ registers a worker's death as it stops; one stopped by its cold shutdown may
        # not, and then it counts dead once its heartbeat is older than the window.
        _wait_for_status(client, 503, worker=None, limit=settings.WORKER_HEARTBEAT_WINDOW + 15)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
