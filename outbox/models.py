"""The outbox: every email the Warehouse sends is first a row here (outbox/backends.py)."""

import datetime
import json

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import models

from sites.fields import EncryptedTextField


class OutboxMessage(models.Model):
    """One email waiting to be sent, sent, or given up on after ``OUTBOX_MAX_TRIES``.

    The body is encrypted at rest: an invitation's link is a secret. Addresses and the
    subject stay readable so that Admins can see what is stuck and why.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "On its way"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    subject = models.CharField(max_length=998)
    from_email = models.CharField(max_length=320)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    bcc = models.JSONField(default=list)
    reply_to = models.JSONField(default=list)
    headers = models.JSONField(default=dict)
    body = EncryptedTextField(blank=True)
    # JSON list of [content, mimetype] (e.g. an HTML version), encrypted like the body.
    alternatives = EncryptedTextField(blank=True)
    # What the email is about, e.g. "customers.invitation:12", so its page can say how the
    # sending went (outbox.services.ABOUT_ATTRIBUTE).
    about = models.CharField(max_length=100, blank=True, db_index=True)
    tries = models.PositiveIntegerField(default=0)
    # When the next try is due; while a worker tries, when it counts as lost.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "outbox email"
        verbose_name_plural = "outbox"

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)}"

    def recipients_label(self) -> str:
        return ", ".join([*self.to, *self.cc, *self.bcc])

    def email_message(self) -> EmailMessage:
        """The message as Django's email backends send it."""
        message = EmailMultiAlternatives(
            subject=self.subject,
            body=self.body,
            from_email=self.from_email,
            to=self.to,
            cc=self.cc,
            bcc=self.bcc,
            reply_to=self.reply_to,
            headers=self.headers,
        )
        for content, mimetype in json.loads(self.alternatives or "[]"):
            message.attach_alternative(content, mimetype)
        return message

    def is_due(self, *, now: datetime.datetime) -> bool:
        return (
            self.state == self.State.QUEUED
            and self.next_attempt_at is not None
            and self.next_attempt_at <= now
        )
