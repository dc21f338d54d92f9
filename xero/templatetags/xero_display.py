"""What every Xero page shows the same way: an outcome's icon, colour and label; an age."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from warehouse import ages
from xero.models import ConnectionTest
from xero.services import session_budget

register = template.Library()

# ``{{ test.started_at|ago }}``: "3 minutes ago", as the messages and the Site list word it.
register.filter("ago", ages.ago)


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


@register.simple_tag
def connection_test_seconds() -> str:
    """How long a connection test may take at most, in seconds ("20")."""
    return f"{session_budget():g}"
