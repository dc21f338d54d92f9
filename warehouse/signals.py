"""Signals the audit trail records."""

from django.dispatch import Signal

# Sent with ``user`` (whose second factor) and ``by`` (who did it: the user when enrolling).
second_factor_enrolled = Signal()
second_factor_reset = Signal()
# Sent with ``user`` who signed in with one of their recovery codes (their authenticator is
# often lost or stolen then), and ``left``, how many they have left.
recovery_code_used = Signal()
