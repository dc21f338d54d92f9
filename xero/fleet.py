"""Writes of fleet health: queue background checks, run them, alert the Admins.

Services like those of ``xero/services.py``, kept apart because they are about many Sites
at once and run in a worker rather than a request.
"""

import datetime
import logging
import queue
import threading
import uuid
from collections import Counter

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sites.models import Site
from sites.roles import ADMINS

from . import limits
from .exceptions import ConnectionTestCooldown
from .models import Alert, Certificate, ConnectionTest, QueuedCheck
from .services import connection_test_run

logger = logging.getLogger(__name__)


def fleet_checks_enqueue(*, site_ids=None, user=None, now: datetime.datetime | None = None):
    """Queue a background connection test of each Site (default: all) not already queued.

    Returns how many Sites were queued. A Site whose check is queued but not started is
    left alone; one queued longer ago than ``XERO_CHECK_QUEUE_TIMEOUT`` (its task was
    lost: a worker killed, a queue emptied) is queued again.
    """
    from .tasks import check_sites

    now = now or timezone.now()
    sites = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=site_ids)
    site_ids = sites.values_list("pk", flat=True)
    stale = now - datetime.timedelta(seconds=settings.XERO_CHECK_QUEUE_TIMEOUT)
    QueuedCheck.objects.filter(queued_at__lt=stale).delete()
    batch = uuid.uuid4()
    # The primary key is the Site: a row already there wins and ours is dropped, so the
    # rows carrying our batch are exactly the Sites this call queued, even against a
    # concurrent enqueue.
    QueuedCheck.objects.bulk_create(
        (
            QueuedCheck(site_id=site_id, batch=batch, queued_at=now, queued_by=user)
            for site_id in site_ids
        ),
        batch_size=500,
        ignore_conflicts=True,
    )
    queued = QueuedCheck.objects.filter(batch=batch).count()
    if queued:
        check_sites.enqueue(batch=str(batch))
    logger.info("Queued %s Site checks in batch %s", queued, batch)
    return queued


def fleet_checks_run(*, batch: str) -> dict[str, int]:
    """Run the queued checks of ``batch``, ``XERO_MAX_CONCURRENT_CALLS`` Sites at a time.

    The work is waiting on Xero, so threads in one worker overlap it as well as processes
    would, without a process per slot; ``xero/limits.py`` keeps the calls within Xero's
    limits whichever way they are spread. Returns how many Sites ended with each outcome.
    """
    site_ids = list(
        QueuedCheck.objects.filter(batch=batch).order_by("pk").values_list("site_id", flat=True)
    )
    outcomes = Counter()
    lock = threading.Lock()

    def check(site_id):
        outcome = fleet_check_site(site_id=site_id, batch=batch)
        with lock:
            outcomes[outcome] += 1

    _run_in_threads(site_ids, check, workers=settings.XERO_MAX_CONCURRENT_CALLS)
    logger.info("Batch %s checked %s Sites: %s", batch, len(site_ids), dict(outcomes))
    return dict(outcomes)


def fleet_check_site(*, site_id: int, batch: str) -> str:
    """Run one queued check, waiting out Xero's rate limits; return its outcome.

    The check that deletes the Site's queue row is the one that runs, so a Site is tested
    once even if two batches list it.
    """
    claimed, _ = QueuedCheck.objects.filter(site_id=site_id, batch=batch).delete()
    site = Site.objects.filter(pk=site_id).first()
    if not claimed or site is None:
        return ConnectionTest.Outcome.SKIPPED.value
    test = None
    try:
        with limits.waiting():
            test = connection_test_run(site=site)
        outcome = test.outcome
    except ConnectionTestCooldown:
        # Tested moments ago (by hand): that result stands.
        outcome = ConnectionTest.Outcome.COOLDOWN.value
    try:
        fleet_alerts_send(site=site, just_passed=test is not None and test.passed)
    except Exception:
        # The alert is not recorded, so the next check sends it.
        logger.exception("Could not send the alerts of site %s", site.code)
    return outcome


def fleet_alerts_send(
    *, site: Site, just_passed: bool = False, now: datetime.datetime | None = None
) -> list[Alert]:
    """Email the Admins what changed for ``site`` and was not told yet; return the alerts.

    Two transitions, each told once: the last connection test failed after an earlier one
    passed (told again only after another pass), and the active certificate entered its
    last ``EXPIRY_WARNING_DAYS`` days (told once per certificate).
    """
    now = now or timezone.now()
    alerts = []
    tests = ConnectionTest.objects.filter(site=site).order_by("-started_at", "-pk")
    # A test that has just passed is the last verdict: no failure to tell.
    last = (
        None
        if just_passed
        else tests.exclude(outcome__in=ConnectionTest.Outcome.not_a_verdict()).first()
    )
    if last is not None and last.failing:
        last_pass = tests.filter(outcome=ConnectionTest.Outcome.OK).only("pk").first()
        if last_pass is not None:
            alerts.append(
                _alert(
                    site=site,
                    kind=Alert.Kind.FAILING,
                    key=last_pass.pk,
                    now=now,
                    subject=f"{site}: Xero connection test failing",
                    body=(
                        f"The Xero connection of {site} passed before, and now fails: "
                        f"{last.outcome_label}.\n\n{last.message}\n\n"
                        f"Tested {last.started_at:%Y-%m-%d %H:%M %Z}."
                    ),
                )
            )
    certificate = Certificate.objects.filter(site=site).active().first()
    if certificate is not None and certificate.is_expiring(now):
        days = certificate.days_to_expiry(now)
        alerts.append(
            _alert(
                site=site,
                kind=Alert.Kind.EXPIRING,
                key=certificate.pk,
                now=now,
                subject=f"{site}: Xero certificate expires in {days} days",
                body=(
                    f"The active certificate of {site} (SHA-1 {certificate.fingerprint_sha1}) "
                    f"expires on {certificate.not_valid_after:%Y-%m-%d}. Issue a new one on "
                    "the Site's page and have the customer paste it into Xero before then."
                ),
            )
        )
    return [alert for alert in alerts if alert is not None]


def _alert(*, site, kind, key, now, subject, body) -> Alert | None:
    if Alert.objects.filter(site=site, kind=kind, key=str(key)).exists():
        return None
    recipients = sorted(
        set(
            get_user_model()
            .objects.filter(groups__name=ADMINS, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if not recipients:
        logger.warning("No Admin has an email address to tell: %s", subject)
    try:
        with transaction.atomic():
            # Recorded and sent together: if sending fails, nothing is recorded and the
            # next check tries again; if another check recorded it first, we stop here.
            alert = Alert.objects.create(
                site=site,
                kind=kind,
                key=str(key),
                subject=subject[:255],
                recipients=len(recipients),
                sent_at=now,
            )
            if recipients:
                send_mail(f"[Warehouse] {subject}", body, None, recipients)
    except IntegrityError:
        return None
    return alert


def _run_in_threads(items, function, *, workers: int) -> None:
    """Call ``function(item)`` for every item, ``workers`` at a time.

    Django opens a database connection per thread; each thread closes its own when done.
    """
    workers = max(1, min(workers, len(items)))
    if workers == 1:
        for item in items:
            function(item)
        return
    pending = queue.SimpleQueue()
    for item in items:
        pending.put(item)

    def work():
        try:
            with limits.global_slot():
                while True:
                    try:
                        item = pending.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        function(item)
                    except Exception:
                        logger.exception("A fleet check failed unexpectedly")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, name=f"xero-fleet-{n}") for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
