"""Who is told what when a Site's link to Xero changes: its customers when it breaks (above
all when it was disconnected in Xero, which only they can undo), and everyone told of the
break when it works again.

The Admins' own alert of a Site that fails after passing is ``fleet_alerts.py``'s; this module
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

from customers.access import is_customer
from sites.models import Site
from sites.roles import ADMINS, SUPPORT

from . import values
from .exceptions import DisconnectedInXero, NotConnected
from .models import Alert, AlertPreference, ConnectionTest, DigestEntry
from .step_keys import STEP_TEST

logger = logging.getLogger(__name__)

Outcome = ConnectionTest.Outcome
# Failures that are a state someone chose, not a break (a disconnect made here).
NOT_A_BREAK = {NotConnected.code}


def fixing_step_url(*, site: Site, step: str, link_base: str | None = None) -> str:
    """The address of the setup page's step that fixes a failure (``#step-<key>``)."""
    base = (link_base if link_base is not None else settings.WAREHOUSE_URL).rstrip("/")
    return f"{base}{reverse('xero:setup', args=[site.code])}#step-{step or STEP_TEST}"


def _users():
    return get_user_model().objects.filter(is_active=True).exclude(email="")


def customer_users(site: Site, *, exclude=None) -> set:
    """The Site's customers who can be emailed (active, with an address)."""
    users = _users().filter(site_memberships__site=site)
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return set(users)


def role_users(*roles: str, exclude=None) -> set:
    """The users of ``roles`` who can be emailed (active, with an address)."""
    users = _users().filter(groups__name__in=roles)
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return set(users)


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


# The key of a break told about a Site that never passed before it.
NEVER_PASSED = "never-passed"
BREAK_KINDS = (Alert.Kind.FAILING, Alert.Kind.BROKEN, Alert.Kind.DISCONNECTED)


def link_alerts_send(
    *, site: Site, test: ConnectionTest, link_base: str | None = None, now=None, told=None
) -> list[Alert]:
    """Tell what ``test`` (the Site's latest verdict, just recorded) changed, to the people
    who can act on it; return the alerts sent (none when already told).

    ``told``: the (site id, kind, key) of the alerts already sent about the Site, when the
    caller read them (a fleet chunk reads its Sites' in one query): a pass with no break
    told and not yet recovered then costs no query at all."""
    if test.outcome in Outcome.not_a_verdict():
        return []
    if test.passed and told is not None:
        mine = {(kind, key) for site_id, kind, key in told if site_id == site.pk}
        broken = {key for kind, key in mine if kind in BREAK_KINDS}
        if not broken - {key for kind, key in mine if kind == Alert.Kind.RECOVERED}:
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
        # Once per disconnect: the pass before it keys it (a Site that never passed, once).
        key = last_pass.pk if last_pass else NEVER_PASSED
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
        alert = send_once(
            site=site,
            kind=Alert.Kind.DISCONNECTED,
            key=key,
            subject=subject,
            body=body,
            recipients=lambda: (
                customer_users(site, exclude=ran_it) | role_users(SUPPORT, exclude=ran_it)
            ),
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
    alert = send_once(
        site=site,
        kind=Alert.Kind.BROKEN,
        key=last_pass.pk,
        subject=subject,
        body=body,
        recipients=lambda: customer_users(site, exclude=ran_it),
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
    keys = {str(last_pass.pk) if last_pass else NEVER_PASSED}
    told = Alert.objects.filter(
        site=site,
        kind__in=BREAK_KINDS,
        key__in=keys,
    )
    break_key = told.values_list("key", flat=True).first()
    kinds = set(told.values_list("kind", flat=True))
    if not kinds:
        return []
    recipients: set = set()
    if Alert.Kind.FAILING in kinds:
        recipients |= role_users(ADMINS, exclude=ran_it)
    if kinds & {Alert.Kind.BROKEN, Alert.Kind.DISCONNECTED}:
        recipients |= customer_users(site, exclude=ran_it)
    if Alert.Kind.DISCONNECTED in kinds:
        recipients |= role_users(SUPPORT, exclude=ran_it)
    subject = f"{name}: the link to Xero works again"
    body = (
        f"Hello,\n\nThe Warehouse's link from {name} to Xero works again: the connection "
        f"test of {timezone.localtime(test.started_at):%-d %b %Y %H:%M} passed.\n\n"
        f"{test.message}\n"
    )
    alert = send_once(
        site=site,
        kind=Alert.Kind.RECOVERED,
        key=break_key,
        subject=subject,
        body=body,
        recipients=lambda: recipients,
        now=now,
    )
    return [alert] if alert else []


def send_once(*, site, kind, key, subject, body, recipients, now) -> Alert | None:
    """Record the alert and deliver it together: if sending fails nothing is recorded and
    the next check tries again; told already (or told by a racing check), nothing is sent.

    ``recipients`` is a callable giving the users to tell, so that an alert told already
    costs no query for them.
    """
    subject = values.text(subject, Alert._meta.get_field("subject").max_length)
    if Alert.objects.filter(site=site, kind=kind, key=str(key)).exists():
        return None
    users = recipients()
    if not users:
        logger.warning("Nobody with an email address to tell: %s", subject)
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                site=site,
                kind=kind,
                key=str(key),
                subject=subject,
                recipients=len(users),
                sent_at=now,
            )
            # Each person as they chose (at once, in the daily digest, or off).
            deliver(kind=kind, subject=subject, alert=alert, users=users, body=body, now=now)
    except IntegrityError:
        return None
    return alert


def deliver(
    *, kind: str, subject: str, users, body: str, alert: Alert | None = None, now=None
) -> list[str]:
    """Send an alert of ``kind`` to each of ``users`` as they chose (``AlertPreference``):
    one email to those who want it at once, a digest entry for those who want the digest,
    nothing for those who turned it off. Returns the addresses emailed now."""
    now = now or timezone.now()
    by_pk = {user.pk: user for user in users}
    deliveries = AlertPreference.deliveries(by_pk, kind)
    Delivery = AlertPreference.Delivery
    DigestEntry.objects.bulk_create(
        DigestEntry(user_id=pk, alert=alert, subject=subject, body=body, queued_at=now)
        for pk, delivery in deliveries.items()
        if delivery == Delivery.DIGEST
    )
    emails = sorted(
        {by_pk[pk].email for pk, delivery in deliveries.items() if delivery == Delivery.IMMEDIATELY}
    )
    if emails:
        send_mail(f"[Warehouse] {subject}", body, None, emails)
    return emails


def digest_send(*, now=None) -> int:
    """Send each person with alerts kept for the digest one email of them all, and forget
    them; returns how many emails were sent. Run daily (``xero_alert_digest``)."""
    now = now or timezone.now()
    sent = 0
    user_ids = DigestEntry.objects.filter(queued_at__lte=now).values_list("user_id", flat=True)
    for user in get_user_model().objects.filter(pk__in=set(user_ids), is_active=True):
        entries = list(DigestEntry.objects.filter(user=user, queued_at__lte=now))
        if user.email:
            parts = [
                f"{entry.subject}\n{'-' * min(len(entry.subject), 72)}\n{entry.body}"
                for entry in entries
            ]
            count = len(entries)
            send_mail(
                f"[Warehouse] Your Xero alerts: {count} since the last digest",
                "\n\n".join(parts)
                + "\n\nChoose which alerts you get, and how, on your alert settings page: "
                + f"{settings.WAREHOUSE_URL.rstrip('/')}{reverse('xero:alert_preferences')}\n",
                None,
                [user.email],
            )
            sent += 1
        DigestEntry.objects.filter(pk__in=[entry.pk for entry in entries]).delete()
    DigestEntry.objects.filter(queued_at__lte=now, user__is_active=False).delete()
    return sent


# Which kinds a person can get: a customer only hears of their own Sites' links.
CUSTOMER_KINDS = (Alert.Kind.DISCONNECTED, Alert.Kind.BROKEN, Alert.Kind.RECOVERED)


def alert_kinds_for(user) -> list[tuple[str, str]]:
    """(kind, label) of the alerts ``user`` can get, for their alert settings page."""
    kinds = CUSTOMER_KINDS if is_customer(user) else tuple(Alert.Kind)
    return [(kind.value, kind.label) for kind in kinds]


def alert_preferences(user) -> dict[str, str]:
    """The deliveries ``user`` chose, by kind (kinds not chosen are at once)."""
    return dict(user.xero_alert_preferences.values_list("kind", "delivery"))


def alert_preferences_save(*, user, choices: dict[str, str]) -> None:
    """Store ``user``'s delivery for each kind in ``choices`` (validated by the form)."""
    with transaction.atomic():
        for kind, delivery in choices.items():
            preference = AlertPreference(user=user, kind=kind, delivery=delivery)
            preference.full_clean(validate_unique=False, validate_constraints=False)
            AlertPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"delivery": delivery}
            )
