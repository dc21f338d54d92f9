"""How long ago something happened, and how long to wait, worded the same on every page and
in every message."""

import datetime

from django.utils import timezone

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def ago(when: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """'just now', '12 seconds ago', '3 minutes ago', '5 days ago': the largest unit only,
    which a list needs and a message reads best with."""
    seconds = max(0, int(((now or timezone.now()) - when).total_seconds()))
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' * (count != 1)} ago"
    return "just now"


def duration(seconds: float) -> str:
    """'45 seconds', '1 hour', '1 hour 30 minutes': the two largest units, so that a wait
    ("Test again in 1 hour") reads as a person would write it, never as 3600 seconds."""
    seconds = max(0, round(seconds))
    parts = []
    for unit, size in _UNITS:
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count} {unit}{'s' * (count != 1)}")
        elif parts:
            break
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 seconds"
