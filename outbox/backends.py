"""``EMAIL_BACKEND = "outbox.backends.OutboxBackend"``: every ``send_mail`` in the
Warehouse becomes an outbox row, sent by a task through ``OUTBOX_EMAIL_BACKEND``."""

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from . import services


class OutboxBackend(BaseEmailBackend):
    """Stores messages instead of sending them: the mail server being down never fails
    the caller (a request, a fleet check); the outbox retries."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        stored = 0
        for message in email_messages:
            if not message.recipients():
                continue
            services.message_store(message)
            stored += 1
        return stored
