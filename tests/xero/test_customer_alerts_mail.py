"""A customer's failing test alerts Support through the outbox: the mail server being down
does not fail the customer's page (issue 23)."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.services import membership_add
from outbox.models import OutboxMessage
from sites.roles import SUPPORT
from tests.mailserver import free_port
from xero.models import ConnectionTest

pytestmark = pytest.mark.django_db


def test_a_customers_failing_test_with_the_mail_server_down_answers_and_queues_the_alert(
    client_for, make_user, site, settings, mail_through_outbox
):
    support = make_user(SUPPORT)
    support.email = "support@imagatec.example"
    support.save()
    ConnectionTest.objects.create(
        site=site,
        connection_type=site.connection_type,
        outcome=ConnectionTest.Outcome.OK,
        started_at=timezone.now() - datetime.timedelta(hours=1),
    )
    settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    settings.XERO_API_URL = f"http://127.0.0.1:{free_port()}/api.xro/2.0/"
    client = client_for("customer")
    membership_add(site=site, user=client.user)

    with mail_through_outbox():
        response = client.post(
            reverse("xero:connection_test", args=[site.code]),
            {"next": reverse("xero:setup", args=[site.code])},
        )

    assert response.status_code == 302
    page = client.get(response.url)
    assert page.status_code == 200 and "Connection test failed" in page.text
    alert = OutboxMessage.objects.get()
    assert alert.to == ["support@imagatec.example"] and "now fails" in alert.subject
    assert alert.state == OutboxMessage.State.QUEUED and "ConnectionRefused" in alert.last_error
