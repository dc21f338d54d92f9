"""The one email Support get when a customer's own connection test changes the Site's story:
it passes for the first time since they were invited, or it starts failing after a pass."""

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse

from customers.selectors import waiting_for_customer
from sites.models import Site
from sites.roles import SUPPORT

from .models import ConnectionTest

FIRST_PASS = "first_pass"  # noqa: S105 (an alert kind, not a password)
STARTED_FAILING = "started_failing"


def customer_test_alert_kind(*, test: ConnectionTest) -> str | None:
    """Which alert ``test`` (just recorded) calls for, if any."""
    earlier = ConnectionTest.objects.filter(site=test.site).exclude(pk=test.pk)
    if test.passed:
        passed_before = earlier.filter(outcome=ConnectionTest.Outcome.OK)
        sites = Site.objects.filter(pk=test.site_id)
        if waiting_for_customer(sites, passed_tests=passed_before).exists():
            return FIRST_PASS
        return None
    previous = earlier.exclude(outcome=ConnectionTest.Outcome.RUNNING).order_by(
        "-started_at", "-pk"
    )
    last = previous.values_list("outcome", flat=True).first()
    return STARTED_FAILING if last == ConnectionTest.Outcome.OK else None


def customer_test_alert_send(*, test: ConnectionTest, link_base: str) -> str | None:
    """Email the Support group's users (those with an address) when ``test``, run by a
    customer, calls for it; returns the alert's kind."""
    kind = customer_test_alert_kind(test=test)
    if kind is None:
        return None
    recipients = list(
        get_user_model()
        .objects.filter(groups__name=SUPPORT, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return kind
    site, who = test.site, test.run_by
    name = who.get_full_name() or who.username if who else "A customer"
    if kind == FIRST_PASS:
        subject = f"{site.name}: the customer's Xero connection test passed"
        body = f"{name} completed the Xero setup of {site.name}: the connection test passed."
    else:
        subject = f"{site.name}: the customer's Xero connection test now fails"
        body = f"{name} ran a connection test of {site.name}, which passed before: {test.message}"
    url = link_base + reverse("xero:setup", args=[site.code])
    send_mail(
        f"[Warehouse] {subject}", f"{body}\n\nThe Site's setup page: {url}\n", None, recipients
    )
    return kind
