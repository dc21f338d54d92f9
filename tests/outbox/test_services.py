import datetime

import pytest
from django.core import mail
from django.core.mail import EmailMessage, send_mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from outbox import services
from outbox.models import OutboxMessage
from outbox.services import OutboxAttachmentsRefused
from tests.mailserver import SmtpServer, free_port

pytestmark = pytest.mark.django_db

LINK = "http://testserver/invitations/s3cret-token-in-the-link/"


def _send(committing) -> OutboxMessage:
    with committing():
        send_mail("Your invitation", f"Open {LINK}", None, ["anna@acme.example"])
    return OutboxMessage.objects.get()


def test_send_mail_is_stored_then_sent_over_smtp_by_the_task(smtp_server, smtp_settings):
    committing = smtp_settings(smtp_server.port)

    row = _send(committing)

    assert row.state == OutboxMessage.State.SENT and row.tries == 1 and row.sent_at
    (envelope,) = smtp_server.received
    assert envelope.rcpt_tos == ["anna@acme.example"]
    assert LINK in envelope.content.decode()


def test_the_body_is_encrypted_at_rest(smtp_server, smtp_settings):
    _send(smtp_settings(smtp_server.port))

    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM outbox_outboxmessage")
        (stored,) = cursor.fetchone()
    assert "s3cret" not in stored and stored.startswith("gAAAA")


def test_nothing_is_sent_before_the_callers_transaction_commits(smtp_server, smtp_settings):
    committing = smtp_settings(smtp_server.port)
    with committing():
        send_mail("Your invitation", f"Open {LINK}", None, ["anna@acme.example"])
        assert smtp_server.received == []
        assert OutboxMessage.objects.get().state == OutboxMessage.State.QUEUED
    assert len(smtp_server.received) == 1


def test_mail_server_down_keeps_the_email_queued_with_the_error(smtp_settings):
    committing = smtp_settings(free_port())

    row = _send(committing)

    assert row.state == OutboxMessage.State.QUEUED and row.tries == 1
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at - timezone.now() > datetime.timedelta(seconds=55)


def test_retries_wait_twice_as_long_each_time_then_the_email_fails(settings, smtp_settings):
    settings.OUTBOX_MAX_TRIES = 4
    settings.OUTBOX_FIRST_RETRY_SECONDS = 60
    row = _send(smtp_settings(free_port()))
    waits = []
    for _ in range(3):
        due = OutboxMessage.objects.get(pk=row.pk).next_attempt_at
        early = due - datetime.timedelta(seconds=1)
        assert services.message_send_attempt(message_id=row.pk, now=early) == "queued"
        assert OutboxMessage.objects.get(pk=row.pk).next_attempt_at == due
        state = services.message_send_attempt(message_id=row.pk, now=due)
        after = OutboxMessage.objects.get(pk=row.pk)
        if after.next_attempt_at:
            waits.append((after.next_attempt_at - due).total_seconds())
    assert waits == [120, 240]
    assert state == after.state == OutboxMessage.State.FAILED
    assert after.tries == 4 and "ConnectionRefusedError" in after.last_error


def test_a_retry_sends_once_the_mail_server_is_back(smtp_settings):
    port = free_port()
    row = _send(smtp_settings(port))
    server = SmtpServer(port)
    server.start()
    try:
        due = OutboxMessage.objects.get(pk=row.pk).next_attempt_at
        assert services.message_send_attempt(message_id=row.pk, now=due) == "sent"
        # A second task for the same email (e.g. `outbox_send` meanwhile) sends nothing.
        assert services.message_send_attempt(message_id=row.pk, now=due) == "sent"
    finally:
        server.stop()
    assert len(server.received) == 1
    assert OutboxMessage.objects.get(pk=row.pk).tries == 2


def test_outbox_send_queues_the_due_emails_whose_task_was_lost(settings, mail_through_outbox):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    with mail_through_outbox():
        send_mail("Alert", "Body", None, ["support@imagatec.example"])
    assert mail.outbox == []
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    call_command("outbox_send")

    assert OutboxMessage.objects.get().state == OutboxMessage.State.SENT
    assert [m.subject for m in mail.outbox] == ["Alert"]


def test_a_queue_that_refuses_leaves_the_email_queued_for_outbox_send(
    settings, mail_through_outbox
):
    settings.TASKS = {"default": {"BACKEND": "tests.xero.test_tasks.RefusingBackend"}}
    with mail_through_outbox():
        sent = send_mail("Alert", "Body", None, ["support@imagatec.example"])
    assert sent == 1
    assert OutboxMessage.objects.get().state == OutboxMessage.State.QUEUED


def test_prune_deletes_old_sent_and_failed_emails_only(settings, mail_through_outbox):
    settings.OUTBOX_KEEP_SENT_DAYS = 30
    old = timezone.now() - datetime.timedelta(days=31)
    for state in OutboxMessage.State:
        OutboxMessage.objects.create(created_at=old, state=state, subject=state, from_email="w@x")
    OutboxMessage.objects.create(
        created_at=timezone.now(), state="sent", subject="recent", from_email="w@x"
    )

    call_command("outbox_send", "--prune")

    assert sorted(OutboxMessage.objects.values_list("subject", flat=True)) == ["queued", "recent"]


def test_attachments_are_refused_plainly(mail_through_outbox):
    message = EmailMessage("Report", "Body", None, ["a@example.com"])
    message.attach("report.csv", "a,b\n", "text/csv")
    with pytest.raises(OutboxAttachmentsRefused, match="link"):
        message.send()


def test_an_html_alternative_and_what_it_is_about_are_kept(mail_through_outbox, site):
    from django.core.mail import EmailMultiAlternatives

    message = EmailMultiAlternatives("Hi", "Plain", None, ["a@example.com"])
    message.attach_alternative("<p>Hi</p>", "text/html")
    services.outbox_about(message, site)
    with mail_through_outbox():
        message.send()

    (sent,) = mail.outbox
    assert sent.alternatives[0][0] == "<p>Hi</p>" and not hasattr(sent, "outbox_about")
    assert OutboxMessage.objects.get().about == f"sites.site:{site.pk}"
