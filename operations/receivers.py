"""Counters fed by signals: lockouts (django-axes) and second-factor failures."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from warehouse import signals

from . import counters

# The second-factor page reports a wrong code as a failed sign-in under this sender
# (accounts/views.py), so that django-axes counts it with the passwords.
SECOND_FACTOR_SENDER = "accounts.views"


@receiver(user_locked_out)
def count_lockout(sender: object, **kwargs: Any) -> None:
    counters.add("lockouts_total")


@receiver(user_login_failed)
def count_login_failure(sender: object, **kwargs: Any) -> None:
    kind = "second_factor" if sender == SECOND_FACTOR_SENDER else "password"
    counters.add("sign_in_failures_total", {"factor": kind})


def flush_counters(sender: object, **kwargs: Any) -> None:
    """django-tasks' ``task_finished``: a worker writes the task's counts."""
    counters.flush()


@receiver(signals.xero_call_answered)
def count_xero_call(sender: object, *, seconds: float, status: int, **kwargs: Any) -> None:
    counters.xero_call(seconds=seconds, status=status)


@receiver(signals.connection_test_recorded)
def count_connection_test(sender: object, *, test: Any, started_by: str, **kwargs: Any) -> None:
    counters.connection_test(test=test, started_by=started_by)
