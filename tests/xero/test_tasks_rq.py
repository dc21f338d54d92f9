"""The larger deployment's task backend, RQ on Redis, switched on by settings alone.

Runs the real commands in subprocesses against the local Redis (database 15, emptied
before and after) and a SQLite file of its own.
"""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.environment import TEST_ENVIRONMENT, manage_environment

pytest.importorskip("django_tasks_rq")
redis = pytest.importorskip("redis")

REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parents[2]


def redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def rq_environment(tmp_path):
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    environment = manage_environment(
        **TEST_ENVIRONMENT,
        DATABASE_URL=f"sqlite:///{tmp_path / 'rq.sqlite3'}",
        TASKS_BACKEND="django_tasks_rq.RQBackend",
        REDIS_URL=REDIS_URL,
        XERO_API_URL="http://127.0.0.1:9/api.xro/2.0/",
    )
    yield environment, queue
    queue.flushdb()


def manage(environment, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_fleet_checks_queue_on_redis_and_an_rq_worker_runs_them(rq_environment):
    environment, queue = rq_environment
    manage(environment, "migrate", "--noinput", "-v", "0")
    manage(
        environment,
        "shell",
        "-c",
        "from sites.models import Site; Site.objects.create(name='Acme', code='acme')",
    )

    assert "Queued 1 Site check" in manage(environment, "xero_check_fleet")
    assert queue.llen("rq:queue:default") == 1
    assert "Queued 0 Site checks" in manage(environment, "xero_check_fleet")  # not twice

    manage(environment, "rqworker", "default", "--burst", "--job-class", "django_tasks_rq.Job")
    assert queue.llen("rq:queue:default") == 0
    outcomes = manage(
        environment,
        "shell",
        "-c",
        "from xero.models import ConnectionTest; "
        "print(list(ConnectionTest.objects.values_list('site__code', 'outcome')))",
    )
    assert "[('acme', 'credentials_missing')]" in outcomes
