"""Lockouts (django-axes): the page that says when to try again, and the log line."""

import logging

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone

logger = logging.getLogger("warehouse.accounts.lockout")

LOCKOUT_STATUS = 429


def retry_at(*, username: str, ip_address: str):
    """When this username may try again from this address (None: not locked)."""
    attempt = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .first()
    )
    if attempt is None:
        return None
    return attempt.attempt_time + get_cool_off()


def lockout_response(request, original_response=None, credentials=None):
    """``AXES_LOCKOUT_CALLABLE``: the lockout page, for the password and the second factor."""
    AxesProxyHandler.update_request(request)
    username = get_client_username(request, credentials) or ""
    context = {
        "title": "Too many failed attempts",
        "username": username,
        "retry_at": retry_at(username=username, ip_address=request.axes_ip_address),
        "now": timezone.now(),
    }
    return render(request, "accounts/lockout.html", context, status=LOCKOUT_STATUS)


def attempts_reset(request, *, username: str) -> None:
    """A full sign-in (password and second factor) forgets this pair's failures.

    Not at the password alone: else each password sign-in would give five more guesses
    at the second factor.
    """
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.reset_attempts(username=username, ip_address=request.axes_ip_address)


@receiver(user_locked_out)
def log_lockout(sender, request, username, ip_address, **kwargs):
    when = retry_at(username=username or "", ip_address=ip_address)
    logger.warning(
        "Locked out: username %r from %s until %s",
        username,
        ip_address,
        when.isoformat(timespec="seconds") if when else "unknown",
    )
