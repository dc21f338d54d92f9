"""The Admins' alerts of Sites' links to Xero, sent by fleet checks: one email per transition.

Two transitions, each told once (an ``Alert`` row, recorded and sent together): the last
test fails after an earlier one passed, and the active certificate enters its last
``EXPIRY_WARNING_DAYS`` days. A fleet chunk tells its Sites' at its end
(``chunk_alerts_send``), with the incident review, the customers' and Support's alerts
(``link_alerts``) and the circuit breaker (``pausing``).
"""

import datetime
import functools
import logging

from django.utils import timezone

from sites.models import Site
from sites.roles import ADMINS

from . import incidents, link_alerts, pausing
from .models import Alert, Certificate, CircuitBreaker, ConnectionTest

logger = logging.getLogger(__name__)

Outcome = ConnectionTest.Outcome


def chunk_alerts_send(sites, results: dict[int, ConnectionTest]) -> None:
    """Send the alerts of a fleet chunk's Sites (``results``: each Site's test of this run,
    ``None`` for one without a verdict), reading what is already told in one query."""
    now = timezone.now()
    try:
        # Many Sites failing as a Xero outage does: one incident alert, the Sites' held.
        incident = incidents.incident_review(now=now)
    except Exception:
        logger.exception("Could not review the Xero incident")
        incident = None
    ids = [site.pk for site in sites]
    told = set(Alert.objects.filter(site_id__in=ids).values_list("site_id", "kind", "key"))
    breakers = set(CircuitBreaker.objects.filter(site_id__in=ids).values_list("site_id", flat=True))
    # The Admins, read once for the chunk's alerts (a tenth of a fleet's Sites may enter
    # their certificate's last days in one run), and only if one is sent.
    admins = functools.cache(_admins)
    for site in sites:
        test = results.get(site.pk)
        active = next(
            (
                certificate
                for certificate in getattr(site, "prefetched_current_certificates", [])
                if certificate.state == Certificate.State.ACTIVE
            ),
            None,
        )
        if site.pk in results and results[site.pk] is None:
            continue  # no verdict recorded by this run (lease lost, a fault of ours)
        try:
            if test is not None and test.outcome not in Outcome.not_a_verdict():
                # The verdict is the test just recorded: no query for the last one.
                last = None if test.passed else test
                alerts = _alerts_due(site=site, last=last, active=active, now=now)
            else:
                alerts = _alerts_due(site=site, last=_last_verdict(site), active=active, now=now)
            held = incident is not None and test is not None and incidents.is_outage_like(test)
            for kind, key, subject, body in alerts:
                if held and kind == Alert.Kind.FAILING:
                    continue  # told by the incident; told as usual if it still fails after
                if (site.pk, kind, str(key)) not in told:
                    _alert(
                        site=site, kind=kind, key=key, now=now, subject=subject, body=body,
                        admins=admins,
                    )  # fmt: skip
            if test is not None and not held:
                # The people who can act (customers, Support), and "works again".
                link_alerts.link_alerts_send(site=site, test=test, now=now, told=told)
                pausing.circuit_review(site=site, test=test, now=now, breakers=breakers)
        except Exception:
            # The alert is not recorded, so the next check sends it.
            logger.exception("Could not send the alerts of site %s", site.code)


def _last_verdict(site: Site) -> ConnectionTest | None:
    return (
        ConnectionTest.objects.filter(site=site)
        .exclude(outcome__in=Outcome.not_a_verdict())
        .order_by("-started_at", "-pk")
        .first()
    )


def fleet_alerts_send(
    *, site: Site, just_passed: bool = False, now: datetime.datetime | None = None
) -> list[Alert]:
    """Email the Admins what changed for ``site`` and was not told yet; return the alerts.

    Two transitions, each told once: the last connection test failed after an earlier one
    passed (told again only after another pass), and the active certificate entered its
    last ``EXPIRY_WARNING_DAYS`` days (told once per certificate).
    """
    now = now or timezone.now()
    # A test that has just passed is the last verdict: no failure to tell.
    last = None if just_passed else _last_verdict(site)
    active = Certificate.objects.filter(site=site).active().first()
    alerts = [
        _alert(site=site, kind=kind, key=key, now=now, subject=subject, body=body)
        for kind, key, subject, body in _alerts_due(site=site, last=last, active=active, now=now)
    ]
    return [alert for alert in alerts if alert is not None]


def _alerts_due(*, site, last, active, now) -> list[tuple]:
    """The transitions to tell for ``site`` given its last verdict and active certificate,
    as (kind, key, subject, body); whether each was told already is ``_alert``'s to check."""
    due = []
    # "Not connected" follows a disconnection made in the Warehouse, on purpose and in the
    # audit trail (or a Site never connected): nothing broke, so nobody is alerted.
    if last is not None and last.failing and last.outcome != Outcome.NOT_CONNECTED:
        last_pass = (
            ConnectionTest.objects.filter(site=site, outcome=Outcome.OK)
            .order_by("-started_at", "-pk")
            .only("pk")
            .first()
        )
        if last_pass is not None:
            due.append(
                (
                    Alert.Kind.FAILING,
                    last_pass.pk,
                    f"{site}: Xero connection test failing",
                    f"The Xero connection of {site} passed before, and now fails: "
                    f"{last.outcome_label}.\n\n{last.message}\n\n"
                    f"Tested {last.started_at:%Y-%m-%d %H:%M %Z}.",
                )
            )
    if active is not None and active.is_expiring(now):
        days = active.days_to_expiry(now)
        due.append(
            (
                Alert.Kind.EXPIRING,
                active.pk,
                f"{site}: Xero certificate expires in {days} days",
                f"The active certificate of {site} (SHA-1 {active.fingerprint_sha1}) "
                f"expires on {active.not_valid_after:%Y-%m-%d}. Issue a new one on "
                "the Site's page and have the customer paste it into Xero before then.",
            )
        )
    return due


def _admins() -> set:
    return link_alerts.role_users(ADMINS)


def _alert(*, site, kind, key, now, subject, body, admins=_admins) -> Alert | None:
    # The Admins, each as they chose (at once, in the daily digest, or off).
    return link_alerts.send_once(
        site=site,
        kind=kind,
        key=key,
        subject=subject,
        body=body,
        recipients=admins,
        now=now,
    )
