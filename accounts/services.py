"""The writes of the second factor: enrol, verify, reset."""

from django.contrib.auth import SESSION_KEY
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnCredential

from warehouse import signals

from .exceptions import (
    PasskeyNotFound,
    SecondFactorAlreadyEnrolled,
    SecondFactorCodeInvalid,
    SecondFactorFirstCodeInvalid,
    SecondFactorThrottled,
)
from .models import (
    RECOVERY_CODE_COUNT,
    THROTTLE_FIELDS,
    BrowserSession,
    RecoveryCode,
    TOTPDevice,
    recovery_code_hashes,
)
from .sessions import SessionStore


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
        raise SecondFactorFirstCodeInvalid()
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

    The check and what it changes (``last_t``, the throttle's counter, a recovery code) are
    one transaction holding the device's lock from its first statement: a code is accepted
    once and every wrong code counts, however many arrive at the same moment. A wrong code
    is counted by an UPDATE inside that transaction, never by saving a copy of the device
    (django-otp's ``throttle_increment`` saves every column, putting back an older
    ``last_t`` that a parallel request had just moved on).
    """
    with transaction.atomic():
        device = TOTPDevice.objects.locked_for_verification(user=user)
        if device is None:
            raise SecondFactorCodeInvalid()
        allowed, refusal = device.verify_is_allowed()
        if not allowed:
            wait = refusal["locked_until"] - timezone.now()
            raise SecondFactorThrottled(seconds=wait.total_seconds())
        if device.verify_token(code, now=now):
            device.throttle_reset(commit=False)
            device.save(update_fields=THROTTLE_FIELDS)
            return device, False
        recovery_code = RecoveryCode.objects.select_for_update().filter(user=user).matching(code)
        if recovery_code is not None:
            recovery_code.used_at = timezone.now() if now is None else now
            recovery_code.save(update_fields=["used_at"])
            device.throttle_reset(commit=False)
            device.save(update_fields=THROTTLE_FIELDS)
            signals.recovery_code_used.send(
                sender=RecoveryCode,
                user=user,
                left=RecoveryCode.objects.filter(user=user).unused().count(),
            )
            return device, True
        # Committed with the transaction (no exception leaves this block): the count stands.
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_count=F("throttling_failure_count") + 1,
            throttling_failure_timestamp=timezone.now(),
        )
    raise SecondFactorCodeInvalid()


@transaction.atomic
def second_factor_reset(*, user, by) -> None:
    """Remove ``user``'s authenticator, passkeys and recovery codes, and sign out every session of
    theirs: they sign in with their password again, then enrol a new authenticator.

    Their sessions are ended because a reset usually follows a lost or stolen device, and
    an open session on it would otherwise enrol the thief's authenticator with no password.
    """
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    # A lost phone may hold a passkey as well: they add their passkeys again after enrolling.
    WebAuthnCredential.objects.filter(user=user).delete()
    sessions_end(user=user)
    signals.second_factor_reset.send(sender=TOTPDevice, user=user, by=by)


def sessions_end(*, user) -> int:
    """Sign out every session of ``user`` (the database session store); how many."""
    sessions = BrowserSession.objects.filter(expire_date__gt=timezone.now())
    ended = [
        session.pk
        for session in sessions.iterator()
        if SessionStore().decode(session.session_data).get(SESSION_KEY) == str(user.pk)
    ]
    BrowserSession.objects.filter(pk__in=ended).delete()
    return len(ended)


@transaction.atomic
def passkey_remove(*, user, passkey_id: int) -> None:
    """Remove one of ``user``'s passkeys (their own: anyone else's is ``PasskeyNotFound``).

    The authenticator app and the recovery codes stay: a passkey is never the only factor.
    """
    passkey = (
        WebAuthnCredential.objects.select_for_update().filter(user=user, pk=passkey_id).first()
    )
    if passkey is None:
        raise PasskeyNotFound()
    name = passkey.name
    passkey.delete()
    signals.passkey_removed.send(sender=WebAuthnCredential, user=user, by=user, name=name)
