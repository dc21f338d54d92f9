"""How a connection test's outcome shows, the same on every page: icon, colour and label."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from xero.models import ConnectionTest

register = template.Library()


@register.simple_tag
def outcome_badge(outcome: str) -> SafeString:
    """``✓ Passed``, ``✗ Signature invalid``, ``Running…``: ``ConnectionTest.Outcome``'s label
    with its icon, in a span whose class ``xero-<tone>`` gives the colour."""
    Outcome = ConnectionTest.Outcome
    icon = Outcome.icon_of(outcome)
    return format_html(
        '<span class="xero-outcome xero-{}">{}{}</span>',
        Outcome.tone_of(outcome),
        f"{icon} " if icon else "",
        Outcome.label_of(outcome),
    )
