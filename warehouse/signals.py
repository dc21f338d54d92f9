"""Signals the audit trail records."""

from django.dispatch import Signal

# Sent with ``user`` (whose second factor) and ``by`` (who did it: the user when enrolling).
second_factor_enrolled = Signal()
second_factor_reset = Signal()
