"""Sites the fleet check leaves alone: paused by Staff, or held by the circuit breaker.

- **Pause** (``site_pause``/``site_resume``): Staff stop a Site's background checks and
  alerts, with a reason, kept in the audit trail; a pause made on purpose is never alerted
  as a break. Paused Sites are not queued by any fleet check.
- **Circuit breaker** (``circuit_review``, after each background verdict): a Site that failed
  with the same non-transient outcome (``BREAKER_OUTCOMES``: only a person can mend those)
  at the last ``XERO_CIRCUIT_BREAKER_CHECKS`` checks is tested every
  ``XERO_CIRCUIT_BREAKER_RETRY`` seconds (a day) instead of hourly; its customers and
  Support are told once. Someone acting ends it: a pass, a *Test connection* click,
  *Connect to Xero* again, or resuming a pause.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sites import audit
from sites.models import AuditEntry, Site
from sites.roles import SUPPORT

from . import link_alerts, values
from .exceptions import (
    ConsumerKeyUnknown,
    DisconnectedInXero,
    InvalidClient,
    PauseReasonMissing,
    ReconnectNeeded,
)
from .models import Alert, CircuitBreaker, ConnectionTest, QueuedCheck, SitePause

Outcome = ConnectionTest.Outcome
BREAKER_OUTCOMES = frozenset(
    {ReconnectNeeded.code, InvalidClient.code, ConsumerKeyUnknown.code, DisconnectedInXero.code}
)
REASON_LENGTH = 200


def site_pause(*, site: Site, reason: str, user=None, now=None) -> SitePause:
    """Pause ``site``'s background checks and alerts, saying why; checks queued and not
    started yet are dropped."""
    now = now or timezone.now()
    reason = values.text(reason, REASON_LENGTH).strip()
    if not reason:
        raise PauseReasonMissing()
    with transaction.atomic():
        pause, _ = SitePause.objects.update_or_create(
            site=site, defaults={"reason": reason, "paused_by": user, "paused_at": now}
        )
        QueuedCheck.objects.filter(site=site, lease_until__isnull=True).delete()
        audit.record(
            kind=AuditEntry.Kind.SITE_CHANGED,
            site=site,
            summary=f"Xero checks and alerts paused: {reason}",
        )
    return pause


def site_resume(*, site: Site, user=None) -> bool:
    """Resume ``site``'s checks and alerts (and end its circuit breaker: someone acted);
    False when it was not paused."""
    with transaction.atomic():
        deleted, _ = SitePause.objects.filter(site=site).delete()
        CircuitBreaker.objects.filter(site=site).delete()
        if deleted:
            audit.record(
                kind=AuditEntry.Kind.SITE_CHANGED,
                site=site,
                summary="Xero checks and alerts resumed",
            )
    return bool(deleted)


def someone_acted(*, site: Site) -> None:
    """A person tested or connected ``site`` again: hourly checks resume."""
    CircuitBreaker.objects.filter(site=site).delete()


def fleet_skipped(*, now, explicit: bool) -> tuple[set[int], set[int]]:
    """(paused Site ids, ids held by the circuit breaker until their daily retry). Sites
    picked by hand (``explicit``) are not held: someone chose to test them."""
    paused = set(SitePause.objects.values_list("site_id", flat=True))
    held: set[int] = set()
    if not explicit:
        held = set(
            CircuitBreaker.objects.filter(next_check_at__gt=now).values_list("site_id", flat=True)
        )
    return paused, held - paused


def circuit_review(*, site: Site, test: ConnectionTest, now, breakers: set[int]) -> None:
    """After a background verdict: open, keep or end ``site``'s circuit breaker.

    ``breakers`` holds the ids of the chunk's Sites with one (read once per chunk), so a
    passing Site without one costs no query."""
    if test.outcome in Outcome.not_a_verdict():
        return
    if test.outcome not in BREAKER_OUTCOMES:
        if site.pk in breakers:
            CircuitBreaker.objects.filter(site=site).delete()
        return
    retry = now + datetime.timedelta(seconds=settings.XERO_CIRCUIT_BREAKER_RETRY)
    if site.pk in breakers:
        CircuitBreaker.objects.filter(site=site).update(next_check_at=retry)
        return
    checks = settings.XERO_CIRCUIT_BREAKER_CHECKS
    last = list(
        ConnectionTest.objects.filter(site=site)
        .exclude(outcome__in=Outcome.not_a_verdict())
        .order_by("-started_at", "-pk")
        .values_list("outcome", flat=True)[:checks]
    )
    if len(last) < checks or set(last) != {test.outcome}:
        return
    CircuitBreaker.objects.update_or_create(
        site=site, defaults={"outcome": test.outcome, "opened_at": now, "next_check_at": retry}
    )
    hours = settings.XERO_CIRCUIT_BREAKER_RETRY // 3600
    url = link_alerts.fixing_step_url(site=site, step=test.step)
    link_alerts.send_once(
        site=site,
        kind=Alert.Kind.CIRCUIT,
        key=f"{test.outcome}-{test.pk}",
        subject=f"{site.name}: Xero link still failing, now tested once a day",
        body=(
            f"Hello,\n\nThe Warehouse's link from {site.name} to Xero has failed the same "
            f"way at its last {checks} checks: {test.outcome_label}.\n\n{test.message}\n\n"
            f"Only a person can mend this, so it is now tested every {hours} hours instead "
            "of every hour, and this is the only reminder. The step that fixes it:\n"
            f"{url}\n\nTesting the connection, or connecting it again, brings back the "
            "hourly checks.\n"
        ),
        recipients=lambda: link_alerts.customer_users(site) | link_alerts.role_users(SUPPORT),
        now=now,
    )


def is_paused(site: Site) -> bool:
    return SitePause.objects.filter(site=site).exists()
