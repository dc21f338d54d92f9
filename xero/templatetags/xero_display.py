"""What every Xero page shows the same way: an outcome's icon, colour and label; an age."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from customers.access import is_customer
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


# What a customer reads for a test someone at Imagatec ran: never a staff username.
STAFF_AS_CUSTOMERS_SEE_THEM = "Imagatec support"


@register.simple_tag(takes_context=True)
def run_by_text(context, user) -> str:
    """Who ran a test, as the reader may see it: Staff see the username; a customer sees
    their own people by name and anyone of Imagatec as "Imagatec support"."""
    if user is None:
        return "—"
    request = context.get("request")
    if request is not None and is_customer(request.user) and not is_customer(user):
        return STAFF_AS_CUSTOMERS_SEE_THEM
    return str(user)


@register.simple_tag
def connection_test_seconds() -> str:
    """How long a connection test may take at most, in seconds ("20")."""
    return f"{session_budget():g}"
