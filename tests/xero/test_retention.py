"""Retention of connection-test history and finished task rows (xero/retention.py)."""

import datetime

from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from xero.models import ConnectionTest
from xero.tasks import check_chunk


def record(site, outcome, days_ago):
    return ConnectionTest.objects.create(
        site=site,
        outcome=outcome,
        connection_type=site.connection_type,
        started_at=timezone.now() - datetime.timedelta(days=days_ago),
    )


def test_old_history_goes_but_each_sites_newest_test_verdict_and_pass_stay(
    site, make_site, settings, capsys
):
    settings.XERO_HISTORY_RETENTION_DAYS = 30
    old_pass, last_pass = record(site, "ok", 300), record(site, "ok", 200)
    record(site, "forbidden", 120)
    last_verdict = record(site, "forbidden", 100)
    newest = record(site, "rate_limited", 90)
    recent = record(site, "ok", 3)
    quiet = make_site(name="Quiet", code="quiet")
    only = record(quiet, "timeout", 400)

    call_command("xero_prune_history")

    kept = set(ConnectionTest.objects.values_list("pk", flat=True))
    # The newest of each kind is kept even when old: here the recent pass is all three
    # for `site`, and the quiet Site keeps its only test.
    assert kept == {recent.pk, only.pk}
    assert "Deleted 5 connection test(s)" in capsys.readouterr().out
    assert not {old_pass.pk, last_pass.pk, last_verdict.pk, newest.pk} & kept


def test_a_sites_last_pass_and_verdict_stay_when_every_test_is_old(site, settings):
    settings.XERO_HISTORY_RETENTION_DAYS = 30
    record(site, "ok", 300)
    last_pass = record(site, "ok", 200)
    last_verdict = record(site, "forbidden", 100)
    newest = record(site, "rate_limited", 90)

    call_command("xero_prune_history")

    assert set(ConnectionTest.objects.values_list("pk", flat=True)) == {
        last_pass.pk,
        last_verdict.pk,
        newest.pk,
    }


def test_finished_task_rows_past_the_retention_go_and_waiting_ones_stay(db, settings, capsys):
    settings.XERO_HISTORY_RETENTION_DAYS = 30
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    long_ago = timezone.now() - datetime.timedelta(days=31)
    for _ in range(3):
        check_chunk.enqueue(chunk="c")
    finished, failed, waiting = DBTaskResult.objects.order_by("pk")
    DBTaskResult.objects.filter(pk=finished.pk).update(status="SUCCESSFUL", finished_at=long_ago)
    DBTaskResult.objects.filter(pk=failed.pk).update(status="FAILED", finished_at=long_ago)

    call_command("xero_prune_history", "--dry-run")
    assert "Would delete 0 connection test(s) and 2 finished task row(s)" in (
        capsys.readouterr().out
    )
    call_command("xero_prune_history")

    assert list(DBTaskResult.objects.values_list("pk", flat=True)) == [waiting.pk]
