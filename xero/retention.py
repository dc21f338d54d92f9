"""Retention of what connection tests leave behind: their history rows and finished tasks.

A fleet of hundreds of Sites tested every hour adds thousands of rows a day, which no page
needs after a while. ``history_prune`` deletes connection tests older than
``XERO_HISTORY_RETENTION_DAYS`` except what each Site's pages and alerts still read: its
newest test, newest verdict and newest pass (the alerts of ``xero/fleet_alerts.py`` are keyed by
the last pass). Finished rows of the database task backend go after the same age. Run daily
by ``manage.py xero_prune_history``, from the audit prune's timer (deploy/).
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from .models import ConnectionTest

Outcome = ConnectionTest.Outcome


@dataclass
class Pruned:
    tests: int = 0
    tasks: int = 0


def retention_cutoff(*, now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or timezone.now()) - datetime.timedelta(days=settings.XERO_HISTORY_RETENTION_DAYS)


def _kept_test_ids() -> set[int]:
    """Each Site's newest test, newest verdict and newest pass."""
    kept: set[int] = set()
    for rows in (
        ConnectionTest.objects.all(),
        ConnectionTest.objects.exclude(outcome__in=Outcome.not_a_verdict()),
        ConnectionTest.objects.filter(outcome=Outcome.OK),
    ):
        newest = rows.order_by().values("site_id").annotate(newest=Max("started_at"))
        for row in newest:
            kept.update(
                rows.filter(site_id=row["site_id"], started_at=row["newest"]).values_list(
                    "pk", flat=True
                )
            )
    return kept


def history_prune(*, now: datetime.datetime | None = None, dry_run: bool = False) -> Pruned:
    """Delete connection tests and finished task rows past the retention; how many."""
    cutoff = retention_cutoff(now=now)
    old_tests = ConnectionTest.objects.filter(started_at__lt=cutoff).exclude(
        Q(pk__in=_kept_test_ids()) | Q(outcome=Outcome.RUNNING)
    )
    pruned = Pruned()
    if dry_run:
        pruned.tests = old_tests.count()
    else:
        pruned.tests, _ = old_tests.delete()
    if "django_tasks_db" in settings.INSTALLED_APPS:
        from django_tasks_db.models import DBTaskResult

        old_tasks = DBTaskResult.objects.filter(
            status__in=["SUCCESSFUL", "FAILED"], finished_at__lt=cutoff
        )
        pruned.tasks = old_tasks.count() if dry_run else old_tasks.delete()[0]
    return pruned
