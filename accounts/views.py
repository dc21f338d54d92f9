"""The second-factor pages (the only ones a user who passed the password alone may open) and
the account's passkeys page."""

import logging

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp_webauthn.models import WebAuthnCredential

from warehouse import sudo

from . import gate, lockout, passkeys, selectors, services
from .exceptions import (
    PasskeyNotFound,
    SecondFactorAlreadyEnrolled,
    SecondFactorCodeInvalid,
    SecondFactorThrottled,
)
from .forms import SecondFactorCodeForm

logger = logging.getLogger(__name__)


def _context(request, **context):
    # Not the admin's each_context: that lists the apps a verified user would see.
    site = admin.site
    return {
        "site_header": site.site_header,
        "site_title": site.site_title,
        "has_permission": False,
        "next": gate.next_url(request, default=""),
        **context,
    }


@require_http_methods(["GET", "POST"])
def verify_view(request):
    """Ask for the authenticator's code (or a recovery code) after the password."""
    user = request.user
    if selectors.is_verified(user):
        return redirect(gate.next_url(request))
    device = selectors.confirmed_device(user)
    if device is None:
        return gate.second_factor_redirect(request)
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        # Refused without looking at the code, like a password after the fifth failure.
        return lockout.lockout_response(request, credentials=credentials)
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, used_recovery_code = services.second_factor_verify(
                user=user, code=form.cleaned_data["code"]
            )
        except (SecondFactorCodeInvalid, SecondFactorThrottled) as error:
            # Counted by django-axes with the password failures of this username and address
            # (a try while the device is throttled too); the fifth locks them out (its
            # middleware answers with the lockout page).
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            form.add_error("code", error.message)
        else:
            gate.second_factor_passed(request, device)
            if used_recovery_code:
                left = selectors.unused_recovery_code_count(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; it cannot be used again. {left} left. "
                    "If you lost your authenticator, ask a superuser to reset your second factor.",
                )
            return redirect(gate.next_url(request))
    has_passkey = selectors.passkeys(user).exists()
    return render(
        request,
        "accounts/second_factor.html",
        _context(
            request,
            title="Second factor",
            form=form,
            passkey_config=passkeys.passkey_script_config(request) if has_passkey else None,
        ),
    )


@require_http_methods(["GET", "POST"])
def enrol_view(request):
    """Set up an authenticator app: QR code and key, a first code, then the recovery codes."""
    user = request.user
    try:
        device = services.second_factor_enrolment_start(user=user)
    except SecondFactorAlreadyEnrolled:
        return gate.second_factor_redirect(request)
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.second_factor_enrolment_confirm(
                device=device, code=form.cleaned_data["code"]
            )
        except SecondFactorCodeInvalid as error:
            form.add_error("code", error.message)
        else:
            otp_login(request, device)
            sudo.second_factor_passed(request)
            request.session.cycle_key()
            logger.info("Second factor enrolled by %s", user.get_username())
            # Rendered in this answer and never again: the codes are stored only as hashes.
            return render(
                request,
                "accounts/recovery_codes.html",
                _context(
                    request,
                    title="Your recovery codes",
                    codes=codes,
                    continue_url=gate.next_url(request),
                ),
            )
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/enrol.html",
        _context(
            request,
            title="Set up your second factor",
            form=form,
            qr_svg=qr.svg_inline(scale=4, border=4, dark="#000", light="#fff"),
            secret=device.secret_base32,
        ),
    )


@require_POST
def log_out_view(request):
    """A way out for a user who stopped at the second factor (the admin's is behind the gate)."""
    logout(request)
    return redirect(reverse("admin:login"))


@require_http_methods(["GET"])
def passkeys_view(request):
    """The user's passkeys: add one (the browser's own dialog), see when each was used."""
    context = {
        **admin.site.each_context(request),
        "title": "Passkeys",
        "passkeys": selectors.passkeys(request.user),
        "passkey_config": passkeys.passkey_script_config(request),
    }
    return render(request, "accounts/passkeys.html", context)


@require_POST
def passkey_remove_view(request, passkey_id: int):
    """Remove one of the user's passkeys; back to the list."""
    session_device = getattr(request.user, "otp_device", None)
    try:
        services.passkey_remove(user=request.user, passkey_id=passkey_id)
    except PasskeyNotFound as error:
        messages.error(request, error.message)
    else:
        if isinstance(session_device, WebAuthnCredential) and session_device.pk == passkey_id:
            # This session passed with the passkey just removed, and django-otp's middleware
            # would find no device for it on the next page: it did pass, so it stays verified,
            # under the authenticator (django-otp's login only records which device).
            otp_login(request, selectors.confirmed_device(request.user))
        messages.success(
            request,
            "Passkey removed. Your authenticator app and recovery codes still work.",
        )
    return redirect("admin:passkeys")
