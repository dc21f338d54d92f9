"""The writes of the second factor: enrol, verify, reset."""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from warehouse import signals

from .exceptions import (
    SecondFactorAlreadyEnrolled,
    SecondFactorCodeInvalid,
    SecondFactorThrottled,
)
from .models import RECOVERY_CODE_COUNT, RecoveryCode, TOTPDevice, recovery_code_hashes


def second_factor_enrolment_start(*, user) -> TOTPDevice:
    """The user's authenticator waiting to be confirmed, made on first call.

    The same key is shown until a code confirms it, so reloading the page does not
    invalidate what the user has already scanned.
    """
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise SecondFactorAlreadyEnrolled()
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice(user=user, name="Authenticator app", confirmed=False)
        device.full_clean()
        device.save()
    return device


@transaction.atomic
def second_factor_enrolment_confirm(*, device: TOTPDevice, code: str, now=None) -> list[str]:
    """Confirm ``device`` with its first code; return the ten new recovery codes.

    The codes are returned this once and kept only as hashes.
    """
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed:
        raise SecondFactorAlreadyEnrolled()
    if not device.verify_token(code, now=now):
        raise SecondFactorCodeInvalid()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    codes = recovery_codes_replace(user=device.user)
    # Inside the transaction: a receiver's record (the audit trail) stands or falls with it.
    signals.second_factor_enrolled.send(sender=TOTPDevice, user=device.user, by=device.user)
    return codes


def recovery_codes_replace(*, user) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them (never stored plain)."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = [RecoveryCode.generate() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery_code_hashes(code)[0]) for code in codes
    )
    return codes


def second_factor_verify(*, user, code: str, now=None) -> tuple[TOTPDevice, bool]:
    """Check ``code`` (an authenticator code or an unused recovery code) for ``user``.

    Returns the user's device and whether a recovery code was used (it is used up).
    Raises ``SecondFactorCodeInvalid`` otherwise, and ``SecondFactorThrottled`` without
    looking at the code while wrong codes in a row keep the device waiting.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            raise SecondFactorCodeInvalid()
        allowed, refusal = device.verify_is_allowed()
        if not allowed:
            wait = refusal["locked_until"] - timezone.now()
            raise SecondFactorThrottled(seconds=wait.total_seconds())
        if device.verify_token(code, now=now):
            device.throttle_reset()
            return device, False
        recovery_code = RecoveryCode.objects.select_for_update().filter(user=user).matching(code)
        if recovery_code is not None:
            recovery_code.used_at = timezone.now() if now is None else now
            recovery_code.save(update_fields=["used_at"])
            device.throttle_reset()
            signals.recovery_code_used.send(
                sender=RecoveryCode,
                user=user,
                left=RecoveryCode.objects.filter(user=user).unused().count(),
            )
            return device, True
    # Counted outside the transaction above, which the failure would roll back.
    device.throttle_increment()
    raise SecondFactorCodeInvalid()


@transaction.atomic
def second_factor_reset(*, user, by) -> None:
    """Remove ``user``'s authenticator and recovery codes, and sign out every session of
    theirs: they sign in with their password again, then enrol a new authenticator.

    Their sessions are ended because a reset usually follows a lost or stolen device, and
    an open session on it would otherwise enrol the thief's authenticator with no password.
    """
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    sessions_end(user=user)
    signals.second_factor_reset.send(sender=TOTPDevice, user=user, by=by)


def sessions_end(*, user) -> int:
    """Sign out every session of ``user`` (the database session store); how many."""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)
