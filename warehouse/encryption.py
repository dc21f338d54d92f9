"""Encrypt and decrypt secrets at rest under ``settings.FIELD_ENCRYPTION_KEYS``.

Keys are Fernet keys, newest first: new values are encrypted under the first, and
any of them decrypts, so keys rotate as ``[current, *fallbacks]``.
"""

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

HOW_TO_MAKE_A_KEY = (
    'Make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class EncryptionKeyError(ImproperlyConfigured):
    """The encryption keys are missing, malformed, or do not open stored data."""

    code = "encryption_key_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EncryptionKeysMissing(EncryptionKeyError):
    code = "encryption_keys_missing"

    def __init__(self):
        super().__init__(
            "FIELD_ENCRYPTION_KEYS is not set, so the Warehouse cannot store or read "
            f"API secrets. Set it to one or more Fernet keys, newest first. {HOW_TO_MAKE_A_KEY}"
        )


class EncryptionKeyMalformed(EncryptionKeyError):
    code = "encryption_key_malformed"

    def __init__(self, position: int):
        self.position = position
        super().__init__(
            f"Entry {position} of FIELD_ENCRYPTION_KEYS is not a valid Fernet key "
            f"(32 url-safe base64-encoded bytes). {HOW_TO_MAKE_A_KEY}"
        )


class SecretUndecryptable(EncryptionKeyError):
    code = "secret_undecryptable"

    def __init__(self):
        super().__init__(
            "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS: "
            "the key it was encrypted with is not in the list. Add that key back after "
            "the new one, then run `python manage.py rotate_encryption_keys`."
        )


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise EncryptionKeysMissing()
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise EncryptionKeyMalformed(position) from None
    return MultiFernet(fernets)


def get_multi_fernet() -> MultiFernet:
    """Return the MultiFernet for the keys in settings, newest first."""
    return _multi_fernet(tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()))


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` under the newest key; returns a Fernet token."""
    return get_multi_fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt a Fernet token made under any of the configured keys."""
    try:
        return get_multi_fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError):
        raise SecretUndecryptable() from None
