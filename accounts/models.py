"""A user's second factor: a TOTP authenticator and single-use recovery codes.

django-otp's own TOTP device keeps its key in plaintext and its static tokens too, so both
live here: the key in an ``EncryptedTextField``, the recovery codes as keyed hashes. The
device is still a django-otp ``Device``, so its middleware and session handling apply.
"""

import secrets
import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.models import Device, DeviceManager, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from sites.fields import EncryptedTextField

TOTP_STEP = 30
TOTP_DIGITS = 6
# One step either side: a phone clock a little off, or a code typed as it changed.
TOTP_TOLERANCE = 1
RECOVERY_CODE_COUNT = 10
# After n wrong codes in a row the device takes no code for 2**(n-1) seconds, wherever they
# come from: django-axes counts per username and address, and addresses are cheap.
THROTTLE_FACTOR_SECONDS = 1
# No 0/o, 1/l/i: read off paper and typed by hand.
RECOVERY_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_LENGTH = 10  # 10 of 31 symbols: 49 bits each
_RECOVERY_HASH_SALT = "warehouse.accounts.RecoveryCode"


def new_totp_key() -> str:
    """20 random bytes, hex-encoded (RFC 4226's recommended HMAC-SHA1 key length)."""
    return secrets.token_hex(20)


class TOTPDeviceManager(DeviceManager):
    def get_queryset(self):
        # django-otp's middleware loads the session's device on every request: the key is
        # decrypted only when a code is checked, not on each page.
        return super().get_queryset().defer("key")


class TOTPDevice(ThrottlingMixin, TimestampMixin, Device):
    """An authenticator app (RFC 6238 TOTP, 6 digits, 30 s). Unconfirmed until enrolment
    checks a first code; its key is encrypted at rest and shown only during enrolment.
    Wrong codes slow it down (django-otp's throttling: ``services.second_factor_verify``)."""

    key = EncryptedTextField(default=new_totp_key)
    # The time step of the last code accepted: a code is never accepted twice.
    last_t = models.BigIntegerField(default=-1)

    objects = TOTPDeviceManager()

    class Meta(Device.Meta):
        verbose_name = "authenticator"

    @property
    def secret_base32(self) -> str:
        """The key as authenticator apps take it when typed in."""
        return b32encode(unhexlify(self.key)).decode("ascii")

    @property
    def config_url(self) -> str:
        """The ``otpauth://`` URL that the QR code carries."""
        issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
        label = f"{issuer}:{self.user.get_username()}"
        query = urlencode(
            {
                "secret": self.secret_base32,
                "issuer": issuer,
                "digits": TOTP_DIGITS,
                "period": TOTP_STEP,
                "algorithm": "SHA1",
            },
            quote_via=quote,
        )
        return f"otpauth://totp/{quote(label)}?{query}"

    def get_throttle_factor(self) -> int:
        return THROTTLE_FACTOR_SECONDS

    def totp(self, *, now: float | None = None) -> TOTP:
        totp = TOTP(unhexlify(self.key), step=TOTP_STEP, digits=TOTP_DIGITS)
        totp.time = time.time() if now is None else now
        return totp

    def verify_token(self, token, *, now: float | None = None) -> bool:
        """True, and remembered as used, if ``token`` is this device's code for now."""
        token = str(token).strip()
        if not (token.isdigit() and len(token) == TOTP_DIGITS):
            return False
        totp = self.totp(now=now)
        if not totp.verify(int(token), tolerance=TOTP_TOLERANCE, min_t=self.last_t + 1):
            return False
        self.last_t = totp.t()
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["last_t", "last_used_at"])
        return True


def normalise_recovery_code(code: str) -> str:
    return "".join(code.lower().split()).replace("-", "")


def recovery_code_hashes(code: str) -> list[str]:
    """The code's keyed hash under SECRET_KEY and each of SECRET_KEY_FALLBACKS.

    A recovery code is random (49 bits), so a fast keyed hash is enough: without the key a
    stolen table cannot even be brute-forced, and checking ten codes costs nothing.
    """
    normalised = normalise_recovery_code(code)
    return [
        salted_hmac(_RECOVERY_HASH_SALT, normalised, secret=secret, algorithm="sha256").hexdigest()
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ]


class RecoveryCodeQuerySet(models.QuerySet):
    def unused(self):
        return self.filter(used_at__isnull=True)

    def matching(self, code: str):
        """The unused code of these that ``code`` is, if any."""
        hashes = recovery_code_hashes(code)
        for recovery_code in self.unused():
            if any(constant_time_compare(recovery_code.code_hash, h) for h in hashes):
                return recovery_code
        return None


class RecoveryCode(models.Model):
    """One single-use recovery code, kept only as a keyed hash; shown once, at enrolment."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = RecoveryCodeQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "used_at"])]

    def __str__(self):
        return f"Recovery code of {self.user} ({'used' if self.used_at else 'unused'})"

    @staticmethod
    def generate() -> str:
        """A new code, shown as two groups of five (``abcde-fghjk``)."""
        raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        return f"{raw[:5]}-{raw[5:]}"
