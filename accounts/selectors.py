"""Reads of the second factor, lockouts and who an email address is."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from warehouse.email_addresses import normal_form

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


def users_with_address(address: str) -> list:
    """The users whose email address, or login name, is ``address`` in its normal form
    (``warehouse.email_addresses``): any case, any Unicode compatibility form, either form of
    an internationalised domain.

    Every user's two columns are read and compared here, since no database index knows the
    normal form: a few thousand users (staff and customers) take milliseconds.
    """
    wanted = normal_form(address)
    User = get_user_model()
    pks = [
        pk
        for pk, email, username in User.objects.values_list("pk", "email", "username")
        if (email and normal_form(email) == wanted) or normal_form(username) == wanted
    ]
    return list(User.objects.filter(pk__in=pks).order_by("pk")) if pks else []
