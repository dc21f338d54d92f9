"""Inviting while the mail server is down: the page answers, the invitation stays valid,
and the Site's page says how the sending went (the outbox, outbox/services.py). Kept
apart from test_views.py, whose tests use the suite's default mail (locmem, straight)."""

import re

import pytest
from django.urls import reverse

from customers.models import Invitation
from outbox import services
from outbox.models import OutboxMessage
from tests.mailserver import SmtpServer, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_at(settings, mail_through_outbox):
    def smtp_at(port: int):
        settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
        return mail_through_outbox

    return smtp_at


def _invite(client, site):
    return client.post(
        reverse("customers:invite", args=[site.code]), {"email": "anna@example.com"}, follow=True
    )


def _email_cell(page: str) -> str:
    (cell,) = re.findall(r'<td data-label="Email"[^>]*>(.*?)</td>', page, re.S)
    return cell


def test_mail_server_down_the_invitation_is_on_its_way_then_sent_when_it_is_back(
    client_for, site, smtp_at
):
    port = free_port()
    client = client_for("staff")
    with smtp_at(port)():
        response = _invite(client, site)

    assert response.status_code == 200
    assert "the email is on its way" in response.text
    assert _email_cell(response.text) == "On its way"
    assert Invitation.objects.get().state() == Invitation.State.OPEN
    page = client.get(reverse("admin:sites_site_change", args=[site.pk])).text
    assert "On its way (tried 1 time: ConnectionRefusedError" in _email_cell(page)

    server = SmtpServer(port)
    server.start()
    try:
        row = OutboxMessage.objects.get()
        services.message_send_attempt(message_id=row.pk, now=row.next_attempt_at)
    finally:
        server.stop()
    (envelope,) = server.received
    assert "/invitations/" in envelope.content.decode()
    page = client.get(reverse("admin:sites_site_change", args=[site.pk])).text
    assert _email_cell(page).startswith("Sent ")


def test_mail_server_down_for_every_try_the_page_says_the_invitation_failed(
    client_for, site, smtp_at, settings
):
    settings.OUTBOX_MAX_TRIES = 2
    client = client_for("staff")
    with smtp_at(free_port())():
        _invite(client, site)
    row = OutboxMessage.objects.get()
    services.message_send_attempt(message_id=row.pk, now=row.next_attempt_at)

    page = client.get(reverse("admin:sites_site_change", args=[site.pk])).text

    assert "Failed after 2 tries: ConnectionRefusedError" in _email_cell(page)
