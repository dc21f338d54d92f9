"""Mail through the outbox: store each email as a row, send it from a task, retry with
exponential back-off, give up after ``OUTBOX_MAX_TRIES`` and say so.

``message_store`` (called by ``OutboxBackend`` for every ``send_mail``) writes the row in
the caller's transaction and queues the ``send`` task once that transaction commits, so a
request never waits for, nor fails because of, the mail server. ``message_send_attempt``
(the task) hands the row to the real transport, ``OUTBOX_EMAIL_BACKEND``, once; a failure
queues the next try ``OUTBOX_FIRST_RETRY_SECONDS`` later, then twice as long each time.
A try whose task was lost (queue down, worker killed) is queued again by
``manage.py outbox_send``.
"""

import datetime
import json
import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from warehouse import database

from .models import OutboxMessage

logger = logging.getLogger(__name__)

# Set on an EmailMessage (``outbox_about(message, obj)``) to say what it is about; read by
# the backend into ``OutboxMessage.about``. An attribute, never a header: nothing of it is
# sent.
ABOUT_ATTRIBUTE = "outbox_about"
# A claimed try that has not finished after this long counts as lost (its worker died):
# `outbox_send` queues it again.
TRY_LEASE = datetime.timedelta(minutes=10)
# Each retry waits twice as long as the one before, at most this long.
MAX_RETRY_WAIT = datetime.timedelta(hours=2)


class OutboxAttachmentsRefused(ValueError):
    """Nothing in the Warehouse emails files; the outbox does not store them."""

    code = "outbox_attachments_refused"

    def __init__(self) -> None:
        super().__init__(
            "The outbox does not send attachments: put a link to the Warehouse's page in the "
            "email instead."
        )


def about_label(obj) -> str:
    """The ``about`` of an email concerning model instance ``obj``: ``app.model:pk``."""
    return f"{obj._meta.label_lower}:{obj.pk}"


def outbox_about(message: EmailMessage, obj) -> EmailMessage:
    """Mark ``message`` as being about ``obj``, so its page can show how sending went."""
    setattr(message, ABOUT_ATTRIBUTE, about_label(obj))
    return message


def message_store(message: EmailMessage, *, now: datetime.datetime | None = None) -> OutboxMessage:
    """Keep ``message`` as an outbox row and queue its sending for when the caller's
    transaction commits (or at once outside one)."""
    if message.attachments:
        raise OutboxAttachmentsRefused()
    now = now or timezone.now()
    alternatives = [[c, mimetype] for c, mimetype in getattr(message, "alternatives", [])]
    row = OutboxMessage(
        created_at=now,
        subject=" ".join(str(message.subject).split())[:998],
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[str(a) for a in message.to],
        cc=[str(a) for a in message.cc],
        bcc=[str(a) for a in message.bcc],
        reply_to=[str(a) for a in message.reply_to],
        headers={str(k): str(v) for k, v in message.extra_headers.items()},
        body=str(message.body),
        alternatives=json.dumps(alternatives) if alternatives else "",
        about=getattr(message, ABOUT_ATTRIBUTE, "")[:100],
        next_attempt_at=now,
    )
    row.save()
    database.after_commit(_queue, row.pk)
    return row


def _queue(message_id: int, *, at: datetime.datetime | None = None) -> None:
    try:
        if at is None:
            send.enqueue(message_id=message_id)
        elif send.get_backend().supports_defer:
            send.using(run_after=at).enqueue(message_id=message_id)
        # Else (a backend that cannot wait) `manage.py outbox_send` queues it when due.
    except Exception:
        # The row stays queued with its time: `manage.py outbox_send` queues it.
        logger.exception("Could not queue outbox email %s", message_id)


@task()
def send(*, message_id: int) -> str:
    """The background task: one try of one outbox email (a retry queues itself)."""
    return message_send_attempt(message_id=message_id)


def message_send_attempt(*, message_id: int, now: datetime.datetime | None = None) -> str:
    """Send one outbox email once if it is due; record the outcome; return its state."""
    now = now or timezone.now()
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
        if row is None:
            return "gone"
        if not row.is_due(now=now):
            # Sent, failed, not yet due, or being tried by another task.
            return row.state
        # Claimed: a second task for the same row finds it not due.
        OutboxMessage.objects.filter(pk=row.pk).update(
            tries=F("tries") + 1, next_attempt_at=now + TRY_LEASE
        )
        row.tries += 1
    try:
        with get_connection(settings.OUTBOX_EMAIL_BACKEND, fail_silently=False) as connection:
            connection.send_messages([row.email_message()])
    except Exception as error:
        return _failed(row, error=error, now=now)
    OutboxMessage.objects.filter(pk=row.pk).update(
        state=OutboxMessage.State.SENT, sent_at=timezone.now(), next_attempt_at=None
    )
    return OutboxMessage.State.SENT


def _failed(row: OutboxMessage, *, error: Exception, now: datetime.datetime) -> str:
    reason = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    logger.warning("Outbox email %s failed (try %s): %s", row.pk, row.tries, reason)
    if row.tries >= settings.OUTBOX_MAX_TRIES:
        OutboxMessage.objects.filter(pk=row.pk).update(
            state=OutboxMessage.State.FAILED, last_error=reason, next_attempt_at=None
        )
        return OutboxMessage.State.FAILED
    first = datetime.timedelta(seconds=settings.OUTBOX_FIRST_RETRY_SECONDS)
    at = now + min(first * 2 ** (row.tries - 1), MAX_RETRY_WAIT)
    OutboxMessage.objects.filter(pk=row.pk).update(last_error=reason, next_attempt_at=at)
    _queue(row.pk, at=at)
    return OutboxMessage.State.QUEUED


def messages_queue_due(*, now: datetime.datetime | None = None) -> int:
    """Queue a task for every outbox email whose try is due (a retry the task queue could
    not defer, or a task that was lost); how many."""
    due = OutboxMessage.objects.filter(
        state=OutboxMessage.State.QUEUED, next_attempt_at__lte=now or timezone.now()
    ).values_list("pk", flat=True)
    count = 0
    for message_id in due:
        _queue(message_id)
        count += 1
    return count


def messages_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete sent emails older than ``OUTBOX_KEEP_SENT_DAYS``; how many. Failed ones stay
    until an Admin has seen them (and are pruned after the same time)."""
    before = (now or timezone.now()) - datetime.timedelta(days=settings.OUTBOX_KEEP_SENT_DAYS)
    deleted, _ = OutboxMessage.objects.filter(
        state__in=[OutboxMessage.State.SENT, OutboxMessage.State.FAILED], created_at__lt=before
    ).delete()
    return deleted
