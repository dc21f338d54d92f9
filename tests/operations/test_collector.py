"""A worker process freezes its start-up out of the garbage collector, once, before it works."""

import json
import subprocess
import sys

import pytest
from django.core.management import call_command

from operations import collector
from operations.management.commands import db_worker
from operations.rq_worker import FleetWorker
from tests.environment import TEST_ENVIRONMENT, manage_environment
from tests.xero.workers import ROOT

# In a process of its own: a freeze here would hold the test run's objects for good.
SETTLED = """
import gc, json
import django
django.setup()
before = gc.get_freeze_count()
from operations.collector import settle_worker_process
settle_worker_process()
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                  "threshold": gc.get_threshold()}))
"""


def test_settling_freezes_what_start_up_built_and_collects_the_young_less_often():
    result = subprocess.run(
        [sys.executable, "-c", SETTLED],
        cwd=ROOT,
        env=manage_environment(**TEST_ENVIRONMENT, DJANGO_SETTINGS_MODULE="warehouse.settings"),
        capture_output=True,
        text=True,
        check=True,
    )
    settled = json.loads(result.stdout)
    assert settled["before"] == 0
    # Django's start-up alone is tens of thousands of objects.
    assert settled["frozen"] > 10_000
    assert settled["threshold"][0] == collector.YOUNG_THRESHOLD


@pytest.fixture
def settling():
    """Records each settling, and what the worker had started by then."""
    calls = []

    def settle():
        calls.append("settled")

    return calls, settle


@pytest.mark.django_db(transaction=True)
def test_db_worker_settles_before_its_threads_and_loop_start(settings, monkeypatch, settling):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    calls, settle = settling
    monkeypatch.setattr(db_worker, "settle_worker_process", settle)
    started = db_worker.HeartbeatThread.start

    def heartbeat_start(thread):
        calls.append("heartbeat")
        started(thread)

    monkeypatch.setattr(db_worker.HeartbeatThread, "start", heartbeat_start)
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    assert calls == ["settled", "heartbeat"]


def test_the_rq_worker_settles_before_its_first_fork(monkeypatch, settling):
    calls, settle = settling
    monkeypatch.setattr("operations.rq_worker.settle_worker_process", settle)

    def work(self, *args, **kwargs):
        calls.append(("work", kwargs))
        return True

    monkeypatch.setattr("rq.worker.Worker.work", work)
    worker = FleetWorker.__new__(FleetWorker)  # no Redis needed: only the order is tested
    assert worker.work(burst=True) is True
    assert calls == ["settled", ("work", {"burst": True})]
