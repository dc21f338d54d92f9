"""Reads of the outbox: how the sending of the emails about some objects went."""

from collections.abc import Iterable

from .models import OutboxMessage
from .services import about_label


def latest_states(objects: Iterable) -> dict[int, OutboxMessage]:
    """For each of ``objects`` (one model) that an email was about, its latest email, by
    the object's pk. Bodies are not read."""
    by_label = {about_label(obj): obj.pk for obj in objects}
    latest: dict[int, OutboxMessage] = {}
    for message in (
        OutboxMessage.objects.filter(about__in=by_label)
        .only("about", "state", "tries", "last_error", "created_at", "sent_at")
        .order_by("created_at", "pk")
    ):
        latest[by_label[message.about]] = message
    return latest
