"""A Xero incident: many Sites failing at once the way an outage of Xero's makes them fail
(``xero_unavailable``, ``timeout``, HTTP 5xx), told as one alert instead of one per Site.

After each chunk of a fleet check, ``incident_review`` counts the Sites whose latest verdict,
within the last ``XERO_INCIDENT_WINDOW`` seconds, is such a failure. At
``XERO_INCIDENT_SITES`` or more it opens one ``XeroIncident`` (one row at most is open: a
database constraint) and tells the Admins and Support once; while it is open, per-Site
alerts of outage-like failures are held (not recorded, so a Site still failing after the
incident closes alerts as usual at its next check). When the count falls below the
threshold again (the tests pass), the incident closes with one message.
"""

import datetime
import logging
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from sites.roles import ADMINS, SUPPORT

from . import link_alerts
from .exceptions import XeroTimeout, XeroUnavailable
from .models import Alert, ConnectionTest, XeroIncident

logger = logging.getLogger(__name__)

Outcome = ConnectionTest.Outcome
OUTAGE_OUTCOMES = (XeroUnavailable.code, XeroTimeout.code)


def is_outage_like(test: ConnectionTest) -> bool:
    """Whether ``test`` failed the way a Xero outage makes every Site fail."""
    return test.failing and (test.outcome in OUTAGE_OUTCOMES or (test.http_status or 0) >= 500)


def _outage_q() -> Q:
    return Q(outcome__in=OUTAGE_OUTCOMES) | Q(http_status__gte=500)


def sites_failing_as_outage(*, now) -> Counter:
    """Outcome → how many Sites' latest verdict, within the window, is outage-like."""
    since = now - datetime.timedelta(seconds=settings.XERO_INCIDENT_WINDOW)
    latest = (
        ConnectionTest.objects.filter(site=OuterRef("site"))
        .exclude(outcome__in=Outcome.not_a_verdict())
        .order_by("-started_at", "-pk")
        .values("pk")[:1]
    )
    rows = (
        ConnectionTest.objects.filter(started_at__gte=since)
        .filter(_outage_q())
        .exclude(outcome__in=Outcome.not_failing())
        .filter(pk=Subquery(latest))
        .values_list("outcome", flat=True)
    )
    return Counter(rows)


def open_incident() -> XeroIncident | None:
    return XeroIncident.objects.filter(open=True).first()


def _health_url() -> str:
    return settings.WAREHOUSE_URL.rstrip("/") + reverse("xero:health")


def _tell(*, subject: str, body: str, now) -> None:
    link_alerts.deliver(
        kind=Alert.Kind.INCIDENT,
        subject=subject,
        users=link_alerts.role_users(ADMINS, SUPPORT),
        body=body,
        now=now,
    )


def incident_review(*, now=None) -> XeroIncident | None:
    """Open or close the Xero incident from the latest verdicts; return the open one."""
    now = now or timezone.now()
    counts = sites_failing_as_outage(now=now)
    failing = sum(counts.values())
    incident = open_incident()
    threshold = settings.XERO_INCIDENT_SITES
    if incident is None and failing >= threshold:
        summary = ", ".join(
            f"{Outcome.label_of(outcome)}: {count}" for outcome, count in counts.most_common()
        )
        try:
            with transaction.atomic():
                incident = XeroIncident.objects.create(
                    opened_at=now, sites_failing=failing, outcomes=dict(counts)
                )
                _tell(
                    subject=f"Xero incident: {failing} Sites cannot reach Xero",
                    body=(
                        f"{failing} Sites failed their latest connection test the way an "
                        f"outage of Xero's makes them fail ({summary}), within "
                        f"{settings.XERO_INCIDENT_WINDOW // 60} minutes. This is most "
                        "likely Xero's trouble, not each Site's: check "
                        "https://status.developer.xero.com.\n\n"
                        "The Sites' own alerts are held while the incident lasts; one "
                        "message will say when their tests pass again. A Site still "
                        "failing afterwards alerts as usual.\n\n"
                        f"The health page: {_health_url()}\n"
                    ),
                    now=now,
                )
        except IntegrityError:
            # Another worker opened it first (and told it).
            return open_incident()
        logger.warning("Xero incident opened: %s Sites failing (%s)", failing, summary)
        return incident
    if incident is None:
        return None
    if failing >= threshold:
        if failing > incident.sites_failing:
            XeroIncident.objects.filter(pk=incident.pk).update(sites_failing=failing)
        return incident
    with transaction.atomic():
        closed = XeroIncident.objects.filter(pk=incident.pk, open=True).update(
            open=False, closed_at=now
        )
        if closed:
            minutes = max(1, round((now - incident.opened_at).total_seconds() / 60))
            opened = f"{timezone.localtime(incident.opened_at):%-d %b %Y %H:%M}"
            _tell(
                subject="Xero incident over: tests pass again",
                body=(
                    f"The Xero incident opened {opened} is over after about {minutes} "
                    f"minutes: fewer than "
                    f"{threshold} Sites now fail as an outage does (at most "
                    f"{incident.sites_failing} did). A Site still failing alerts as usual "
                    f"at its next check.\n\nThe health page: {_health_url()}\n"
                ),
                now=now,
            )
            logger.warning("Xero incident closed after %s minutes", minutes)
    return None
