"""Who is told what when a Site's link to Xero changes: its customers when it breaks (above
all when it was disconnected in Xero, which only they can undo), and everyone told of the
break when it works again.

The Admins' own alert of a Site that fails after passing stays ``fleet.py``'s; this module
adds the people who can act (the Site's customers, Support) and the "recovered" message.
Each alert is an ``Alert`` row, recorded and sent together, so each is told once:

- ``disconnected`` — the last test is *Disconnected in Xero*: the customers and Support
  get how to connect again, with a link to the step that does it (once per disconnect:
  keyed by the last pass before it);
- ``broken`` — the last test fails after a pass (any other failure a customer can fix):
  the customers get a plain explanation and a link to the step that fixes it;
- ``recovered`` — a test passes after a break someone was told of: the same people hear
  that it works again.

Outcomes that are states rather than breaks (*Not connected*: someone disconnected it
here, on purpose) are never told to customers as broken, and the person whose own click
ran the test is not emailed what they have just seen.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from sites.models import Site
from sites.roles import ADMINS, SUPPORT

from . import values
from .exceptions import DisconnectedInXero, NotConnected
from .models import Alert, ConnectionTest
from .step_keys import STEP_TEST

logger = logging.getLogger(__name__)

Outcome = ConnectionTest.Outcome
# Failures that are a state someone chose, not a break (a disconnect made here).
NOT_A_BREAK = {NotConnected.code}


def fixing_step_url(*, site: Site, step: str, link_base: str | None = None) -> str:
    """The address of the setup page's step that fixes a failure (``#step-<key>``)."""
    base = (link_base if link_base is not None else settings.WAREHOUSE_URL).rstrip("/")
    return f"{base}{reverse('xero:setup', args=[site.code])}#step-{step or STEP_TEST}"


def customer_emails(site: Site, *, exclude=None) -> list[str]:
    """The Site's customers who can be emailed (active, with an address)."""
    users = (
        get_user_model()
        .objects.filter(site_memberships__site=site, is_active=True)
        .exclude(email="")
    )
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return sorted(set(users.values_list("email", flat=True)))


def role_emails(*roles: str, exclude=None) -> list[str]:
    """The users of ``roles`` who can be emailed (active, with an address)."""
    users = (
        get_user_model().objects.filter(groups__name__in=roles, is_active=True).exclude(email="")
    )
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return sorted(set(users.values_list("email", flat=True)))


def _last_pass_before(test: ConnectionTest) -> ConnectionTest | None:
    return (
        ConnectionTest.objects.filter(
            site_id=test.site_id, outcome=Outcome.OK, started_at__lte=test.started_at
        )
        .exclude(pk=test.pk)
        .order_by("-started_at", "-pk")
        .only("pk")
        .first()
    )


def link_alerts_send(
    *, site: Site, test: ConnectionTest, link_base: str | None = None, now=None
) -> list[Alert]:
    """Tell what ``test`` (the Site's latest verdict, just recorded) changed, to the people
    who can act on it; return the alerts sent (none when already told)."""
    if test.outcome in Outcome.not_a_verdict():
        return []
    now = now or timezone.now()
    ran_it = test.run_by
    if test.passed:
        return _recovered(site=site, test=test, ran_it=ran_it, now=now)
    if test.outcome in NOT_A_BREAK:
        return []
    name = site.name  # customers know their Site by its name, not its code
    last_pass = _last_pass_before(test)
    url = fixing_step_url(site=site, step=test.step, link_base=link_base)
    if test.outcome == DisconnectedInXero.code:
        key = last_pass.pk if last_pass else f"test-{test.pk}"
        organisation = test.site.xero_organisation_name or "your Xero organisation"
        subject = f"{name}: disconnected in Xero, connect it again"
        body = (
            f"Hello,\n\nThe Warehouse's link from {name} to Xero was disconnected in Xero "
            f"(Settings › Connected apps), so {name} no longer sends anything to "
            f"{organisation} or reads anything from it.\n\n{test.message}\n\n"
            f"To connect it again, open this page and follow its step:\n{url}\n\n"
            "If it was disconnected on purpose, reply to Support, who can pause the Site's "
            "checks.\n"
        )
        recipients = customer_emails(site, exclude=ran_it) + role_emails(SUPPORT, exclude=ran_it)
        alert = _send(
            site=site,
            kind=Alert.Kind.DISCONNECTED,
            key=key,
            subject=subject,
            body=body,
            recipients=recipients,
            now=now,
        )
        return [alert] if alert else []
    if last_pass is None:
        # Never worked: nothing broke (the setup is still under way).
        return []
    subject = f"{name}: the link to Xero stopped working"
    body = (
        f"Hello,\n\nThe Warehouse's link from {name} to Xero worked before and now fails: "
        f"{test.outcome_label}.\n\n{test.message}\n\n"
        f"This page shows what to do, at the step that fixes it:\n{url}\n"
    )
    alert = _send(
        site=site,
        kind=Alert.Kind.BROKEN,
        key=last_pass.pk,
        subject=subject,
        body=body,
        recipients=customer_emails(site, exclude=ran_it),
        now=now,
    )
    return [alert] if alert else []


def _recovered(*, site, test, ran_it, now) -> list[Alert]:
    name = site.name
    """"Works again", once, to those told of the break just ended: the break's alerts are
    keyed by the last pass before it, i.e. the pass before the failures this test ends."""
    last_pass = _last_pass_before(test)
    failures = ConnectionTest.objects.filter(site_id=test.site_id, started_at__lt=test.started_at)
    if last_pass is not None:
        failures = failures.filter(started_at__gte=last_pass.started_at)
    if not failures.exclude(outcome__in=Outcome.not_failing()).exists():
        return []
    keys = (
        {str(last_pass.pk)}
        if last_pass
        else {f"test-{pk}" for pk in failures.values_list("pk", flat=True)}
    )
    told = Alert.objects.filter(
        site=site,
        kind__in=[Alert.Kind.FAILING, Alert.Kind.BROKEN, Alert.Kind.DISCONNECTED],
        key__in=keys,
    )
    break_key = told.values_list("key", flat=True).first()
    kinds = set(told.values_list("kind", flat=True))
    if not kinds:
        return []
    recipients = []
    if Alert.Kind.FAILING in kinds:
        recipients += role_emails(ADMINS, exclude=ran_it)
    if kinds & {Alert.Kind.BROKEN, Alert.Kind.DISCONNECTED}:
        recipients += customer_emails(site, exclude=ran_it)
    if Alert.Kind.DISCONNECTED in kinds:
        recipients += role_emails(SUPPORT, exclude=ran_it)
    subject = f"{name}: the link to Xero works again"
    body = (
        f"Hello,\n\nThe Warehouse's link from {name} to Xero works again: the connection "
        f"test of {timezone.localtime(test.started_at):%-d %b %Y %H:%M} passed.\n\n"
        f"{test.message}\n"
    )
    alert = _send(
        site=site,
        kind=Alert.Kind.RECOVERED,
        key=break_key,
        subject=subject,
        body=body,
        recipients=recipients,
        now=now,
    )
    return [alert] if alert else []


def _send(*, site, kind, key, subject, body, recipients, now) -> Alert | None:
    """Record the alert and send it together (``fleet._alert``'s rule): if sending fails
    nothing is recorded and the next check tries again; told already, nothing is sent."""
    subject = values.text(subject, Alert._meta.get_field("subject").max_length)
    recipients = sorted(set(recipients))
    if Alert.objects.filter(site=site, kind=kind, key=str(key)).exists():
        return None
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                site=site,
                kind=kind,
                key=str(key),
                subject=subject,
                recipients=len(recipients),
                sent_at=now,
            )
            if recipients:
                send_mail(f"[Warehouse] {subject}", body, None, recipients)
    except IntegrityError:
        return None
    return alert
