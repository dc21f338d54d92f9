"""Signals the audit trail records, and those /metrics counts."""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.dispatch import Signal

# Sent with ``user`` (whose second factor) and ``by`` (who did it: the user when enrolling).
second_factor_enrolled = Signal()
second_factor_reset = Signal()
# Sent with ``user`` who signed in with one of their recovery codes (their authenticator is
# often lost or stolen then), and ``left``, how many they have left.
recovery_code_used = Signal()
# Sent with ``user`` (whose passkey), ``by`` (who did it) and ``name`` (the passkey's).
passkey_added = Signal()
passkey_removed = Signal()

# For /metrics (operations/receivers.py), sent by xero without knowing who counts:
# ``seconds`` and ``status`` of every call Xero answered ...
xero_call_answered = Signal()
# ... and ``test`` (a ConnectionTest just recorded) with ``started_by``: how it was started.
connection_test_recorded = Signal()

# How the connection test under way was started ("button", "fleet", "command", "api"):
# callers that know set it (``test_started_by``); otherwise xero/services.py infers it.
test_started_by: contextvars.ContextVar[str] = contextvars.ContextVar("started_by", default="")


@contextmanager
def started_by(origin: str) -> Iterator[None]:
    """Tests run within this block count as started by ``origin`` (e.g. an API call)."""
    token = test_started_by.set(origin)
    try:
        yield
    finally:
        test_started_by.reset(token)
