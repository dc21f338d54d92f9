"""Lockouts (django-axes): the page that says when to try again, and the log line."""

import logging

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.dispatch import receiver
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .selectors import users_with_address

logger = logging.getLogger("warehouse.accounts.lockout")

LOCKOUT_STATUS = 429
# What django-axes records instead of a sign-in name that is no account's.
UNKNOWN_NAME_PREFIX = "unknown:"


def attempt_username(request, credentials=None) -> str:
    """``AXES_USERNAME_CALLABLE``: the name a failure counts against, and that axes stores.

    The account's own login name when the typed name signs in to one (an email address in any
    case and form is its account's: ``Anna@Example.com`` and ``anna@example.com`` share one
    count). Anything else may be a password typed into the wrong box: it is stored and logged
    only as a keyed hash (``unknown:`` and 20 hex digits), which counts the same string
    together and tells nothing of it.
    """
    typed = str((credentials or {}).get("username") or request.POST.get("username") or "")
    if not typed:
        return ""
    account = _account_name(typed)
    if account is not None:
        return account
    digest = salted_hmac("warehouse.accounts.lockout.attempt_username", typed).hexdigest()
    return UNKNOWN_NAME_PREFIX + digest[:20]


def _account_name(typed: str) -> str | None:
    User = get_user_model()
    if "@" in typed:
        users = users_with_address(typed)
        if len(users) == 1:
            return users[0].get_username()
    if User.objects.filter(username=typed).exists():
        return typed
    return None


def shown_name(request, username: str) -> str:
    """The name the lockout page repeats: what was typed in this request, or the account's;
    never the hash of an unknown name."""
    typed = request.POST.get("username", "") if request.method == "POST" else ""
    if typed:
        return typed
    return "" if username.startswith(UNKNOWN_NAME_PREFIX) else username


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
        "username": shown_name(request, username),
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
