import pytest
from django.core import mail
from django.urls import reverse

from customers.services import invitation_create
from sites.roles import SUPPORT
from xero.customer_alerts import FIRST_PASS, STARTED_FAILING, customer_test_alert_send
from xero.models import ConnectionTest


@pytest.fixture
def support_contact(make_user):
    user = make_user(SUPPORT)
    user.email = "support@imagatec.example"
    user.save()
    return user


def _test(site, outcome, message=""):
    return ConnectionTest.objects.create(
        site=site, connection_type=site.connection_type, outcome=outcome, message=message
    )


def _invite(site):
    invitation_create(site=site, email="anna@example.com", link_base="http://testserver")
    mail.outbox.clear()


def test_support_get_one_email_when_the_customers_test_first_passes(site, support_contact):
    _invite(site)
    _test(site, "consumer_key_unknown")
    first = customer_test_alert_send(
        test=_test(site, ConnectionTest.Outcome.OK), link_base="http://t"
    )
    again = customer_test_alert_send(
        test=_test(site, ConnectionTest.Outcome.OK), link_base="http://t"
    )
    assert (first, again) == (FIRST_PASS, None)
    (message,) = mail.outbox
    assert message.to == ["support@imagatec.example"]
    assert "passed" in message.subject and site.name in message.subject


def test_support_get_one_email_when_a_passing_site_starts_failing(site, support_contact):
    _test(site, ConnectionTest.Outcome.OK)
    kinds = [
        customer_test_alert_send(test=_test(site, "token_rejected", "Xero refused"), link_base="")
        for _ in range(2)
    ]
    assert kinds == [STARTED_FAILING, None]
    assert len(mail.outbox) == 1 and "Xero refused" in mail.outbox[0].body


def test_waiting_for_customer_lists_invited_sites_until_a_test_passes(client_for, site, make_site):
    never_invited = make_site(name="Never Invited Ltd")
    _invite(site)
    url = reverse("admin:sites_site_changelist") + "?customer=waiting"
    client = client_for("support")
    before = client.get(url).text
    _test(site, ConnectionTest.Outcome.OK)
    after = client.get(url).text
    assert "Acme Pty Ltd" in before and never_invited.name not in before
    assert "Acme Pty Ltd" not in after
