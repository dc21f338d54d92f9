"""Passkeys (WebAuthn) as a second factor beside the authenticator app, on django-otp-webauthn.

A passkey is a django-otp device like the authenticator, so django-otp's middleware marks a
session that passed it verified and the admin's gate treats both alike. What is ours:

- the ceremonies' four endpoints, subclasses of the library's views served by the admin site
  (``accounts/adminsite.py``): adding a passkey needs a session that passed the second factor
  already; using one needs the password first (no passwordless sign-in), and a lockout
  refuses it as it refuses a code;
- passing the second factor with a passkey does what passing it with a code does
  (``gate.second_factor_passed``): the session's key changes, the failures are forgotten;
- each passkey added (here) or removed (``services.passkey_remove``) leaves an audit row.

The library's browser scripts are static files (``script-src 'self'`` under our CSP); the
page hands them their endpoints as a JSON data block (``passkey_script_config``).
"""

from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.db import transaction
from django.middleware import csrf
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn import exceptions as webauthn_exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from warehouse import signals

from . import gate, selectors


class PasskeyLockedOut(webauthn_exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "locked_out"
    default_detail = (
        "Too many failed sign-ins for this account from this address: wait 15 minutes, "
        "then sign in again."
    )


class PasskeyNotVerified(webauthn_exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "user_not_verified"
    default_detail = "Pass the second factor first, then add a passkey from your account."


class PasskeyHelper(WebAuthnHelper):
    """The library's ceremonies, with our names and audit rows (``OTP_WEBAUTHN_HELPER_CLASS``)."""

    def create_credential(self, user, response, parsed_credential, original_data):
        credential = super().create_credential(user, response, parsed_credential, original_data)
        credential.name = f"Passkey added {timezone.localdate():%Y-%m-%d}"
        return credential

    def register_complete(self, user, state, data):
        # The credential, its attestation and the audit row stand or fall together.
        with transaction.atomic():
            credential = super().register_complete(user=user, state=state, data=data)
            signals.passkey_added.send(
                sender=type(credential), user=user, by=user, name=credential.name
            )
        return credential


def passkey_script_config(request) -> dict:
    """What the library's scripts read from the page (``otp_webauthn_config``)."""
    return {
        "csrfToken": csrf.get_token(request),
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": "input[name='next']",
        "beginRegistrationUrl": reverse("admin:passkey_register_begin"),
        "completeRegistrationUrl": reverse("admin:passkey_register_complete"),
        "beginAuthenticationUrl": reverse("admin:passkey_verify_begin"),
        "completeAuthenticationUrl": reverse("admin:passkey_verify_complete"),
    }


class _Registration:
    def check_can_register(self):
        # The admin's gate already asked for a verified session; this holds whatever wraps
        # the view, and the library itself lets a user with no device at all register.
        if not selectors.second_factor_satisfied(self.request.user):  # type: ignore[attr-defined]
            raise PasskeyNotVerified()


class PasskeyRegistrationBeginView(_Registration, BeginCredentialRegistrationView):
    pass


class PasskeyRegistrationCompleteView(_Registration, CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        # Shown when the page reloads to list the new passkey (warehouse/passkeys.js).
        messages.success(
            self.request,
            "Passkey added. At your next sign-in, after your password, choose "
            "\u201cUse a passkey\u201d instead of typing a code.",
        )
        return response


class _Verification:
    def check_can_authenticate(self):
        user = self.request.user  # type: ignore[attr-defined]
        if not user.is_authenticated:
            raise webauthn_exceptions.PasswordlessLoginDisabled()
        if AxesProxyHandler.is_locked(self.request, {"username": user.get_username()}):  # type: ignore[attr-defined]
            raise PasskeyLockedOut()
        super().check_can_authenticate()  # type: ignore[misc]


class PasskeyVerificationBeginView(_Verification, BeginCredentialAuthenticationView):
    pass


class PasskeyVerificationCompleteView(_Verification, CompleteCredentialAuthenticationView):
    def complete_auth(self, device):
        gate.second_factor_passed(self.request, device)

    def get_success_url(self):
        return gate.next_url(self.request)
