"""Times as a person would write them: '1 hour', 'just now', '3 minutes ago'."""

import datetime

from django.utils import timezone

UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'s' * (number != 1)}"


def duration(seconds: float) -> str:
    """'45 seconds', '1 hour', '1 hour 30 minutes': the two largest units, so a wait is
    never shown shorter than it is by more than one small unit."""
    seconds = max(0, round(seconds))
    parts = []
    for unit, size in UNITS:
        if seconds >= size:
            parts.append(_count(seconds // size, unit))
            seconds %= size
        elif parts:
            break
        if len(parts) == 2:
            break
    return " ".join(parts) or "0 seconds"


def ago(when: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """'just now', '3 minutes ago', '2 hours ago': the largest unit only, as a list needs."""
    if when is None:
        return ""
    seconds = max(0, int(((now or timezone.now()) - when).total_seconds()))
    for unit, size in UNITS[:-1]:
        if seconds >= size:
            return f"{_count(seconds // size, unit)} ago"
    return "just now"
