"""Template filters of the Xero pages."""

import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def ago(when: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    """'just now', '3 minutes ago', '2 hours ago': the largest unit only, as a list needs."""
    if when is None:
        return ""
    seconds = max(0, int(((now or timezone.now()) - when).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' * (count != 1)} ago"
    return "just now"
