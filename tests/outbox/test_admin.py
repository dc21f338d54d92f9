import pytest
from django.core.mail import send_mail
from django.urls import reverse

from outbox.models import OutboxMessage
from tests.mailserver import free_port

pytestmark = pytest.mark.django_db

LIST = "admin:outbox_outboxmessage_changelist"


@pytest.fixture
def failed_email(settings, smtp_settings):
    settings.OUTBOX_MAX_TRIES = 1
    with smtp_settings(free_port())():
        send_mail("Set up Xero for Acme", "http://x/invitations/tok3n/", None, ["a@acme.example"])
    return OutboxMessage.objects.get()


def test_admins_see_state_tries_and_error_but_never_the_body(client_for, failed_email):
    client = client_for("admins")

    listing = client.get(reverse(LIST)).content.decode()
    detail = client.get(
        reverse("admin:outbox_outboxmessage_change", args=[failed_email.pk])
    ).content.decode()

    for page in (listing, detail):
        assert "Set up Xero for Acme" in page and "Failed" in page
        assert "ConnectionRefusedError" in page
        assert "tok3n" not in page
    assert "Save" not in detail


@pytest.mark.parametrize("role", ["staff", "support"])
def test_other_roles_do_not_see_the_outbox(client_for, role, failed_email):
    assert client_for(role).get(reverse(LIST)).status_code == 403
