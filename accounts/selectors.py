"""Reads of the second factor and lockouts."""

from django.conf import settings
from django.db.models import QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from .models import RecoveryCode, TOTPDevice


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def passkeys(user) -> QuerySet[WebAuthnCredential]:
    """The user's passkeys, oldest first."""
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")


def unused_recovery_code_count(user) -> int:
    return RecoveryCode.objects.filter(user=user).unused().count()


def is_verified(user) -> bool:
    """Whether this request's user passed the second factor (django-otp's middleware)."""
    return bool(getattr(user, "is_verified", lambda: False)())


def second_factor_satisfied(user) -> bool:
    """The decision the admin's gate makes about the second factor."""
    if not settings.REQUIRE_TWO_FACTOR:
        return True
    return is_verified(user)


def awaits_second_factor(user) -> bool:
    """A staff member who passed the password but not (yet) the second factor."""
    return (
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and not second_factor_satisfied(user)
    )
