"""Where the admin's gate sends someone next: below both the admin site and the views that
the site serves, so that each can ask without importing the other."""

from urllib.parse import urlencode

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from warehouse import sudo

from . import lockout
from .selectors import confirmed_device


def next_url(request: HttpRequest, *, site_name: str = "admin", default: str | None = None) -> str:
    """The page to go on to (``?next=``), if it is on this host; else ``default`` (None: the
    admin's index)."""
    wanted = request.POST.get(REDIRECT_FIELD_NAME, request.GET.get(REDIRECT_FIELD_NAME, ""))
    if wanted and url_has_allowed_host_and_scheme(
        wanted, {request.get_host()}, request.is_secure()
    ):
        return wanted
    return reverse(f"{site_name}:index") if default is None else default


def second_factor_redirect(
    request: HttpRequest, *, site_name: str = "admin"
) -> HttpResponseRedirect:
    """To the code page, or to enrolment for a user who has no authenticator yet."""
    name = "second_factor" if confirmed_device(request.user) else "second_factor_enrol"
    url = reverse(f"{site_name}:{name}")
    after = next_url(request, site_name=site_name, default="")
    if after:
        url += "?" + urlencode({REDIRECT_FIELD_NAME: after})
    return redirect(url)


def second_factor_passed(request: HttpRequest, device) -> None:
    """This session passed the second factor with ``device`` (a code or a passkey).

    A new key for the verified session: the one issued after the password alone (which
    another tab, a log or a proxy may have seen) never becomes verified. A full sign-in
    forgets this username and address's failures.
    """
    otp_login(request, device)
    # A passkey counts as a fresh second factor as much as a code does.
    sudo.second_factor_passed(request)
    request.session.cycle_key()
    lockout.attempts_reset(request, username=request.user.get_username())
