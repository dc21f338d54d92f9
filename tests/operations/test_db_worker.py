"""Our ``db_worker`` outlives its database failing under the library's loop (issue 29)."""

import logging
import threading
import time

import pytest
from django.db import connection

from operations import counters
from operations.management.commands.db_worker import ResilientWorker, beside_the_loop
from operations.models import WorkerHeartbeat
from tests.xero.workers import wait_for


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_outlives_an_unreachable_database_and_counts_it(settings, caplog):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    worker = ResilientWorker(
        queue_names=["default"],
        interval=0.05,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="outage",
        excluded_queue_names=[],
    )
    database = connection.settings_dict
    saved = dict(database)
    connection.close()
    # The database gone from where it was (restarting) for its first tries.
    if connection.vendor == "sqlite":
        database["NAME"] = "/nonexistent-directory/warehouse.sqlite3"
    else:
        database["PORT"] = "1"
    ended = threading.Event()

    def run():
        try:
            worker.run()  # batch: returns once it has found the queue empty
        finally:
            ended.set()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    give_up = time.monotonic() + 30
    caplog.set_level(logging.WARNING, logger="operations.management.commands.db_worker")
    while len([r for r in caplog.records if "the database failed" in r.getMessage()]) < 2:
        assert not ended.is_set(), "the worker ended while the database was away"
        assert time.monotonic() < give_up, "the worker never met the outage"
        time.sleep(0.05)
    database.update(saved)
    assert ended.wait(30), "the worker did not carry on once the database was back"
    thread.join()
    # Counted for /metrics (warehouse_worker_errors_total{part="loop"}).
    assert counters.values()['worker_errors_total{part="loop"}'] >= 2


@pytest.mark.django_db(transaction=True)
def test_a_stop_that_cuts_a_transaction_short_still_removes_the_heartbeat(settings):
    # SIGTERM raises SystemExit wherever the library's loop stands: here just after its
    # BEGIN, before transaction.atomic took charge, so nothing rolls that transaction back.
    # On SQLite it holds the write lock the heartbeat needs to remove its row (CI saw the
    # row outlive a real worker once).
    settings.WORKER_HEARTBEAT_INTERVAL = 0.1
    with pytest.raises(SystemExit), beside_the_loop(worker="cut-short"):
        wait_for(WorkerHeartbeat.objects.exists, what="the heartbeat's first beat", limit=30)
        connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        raise SystemExit(0)
    assert not WorkerHeartbeat.objects.exists()
