"""Cleaning and validation of credentials pasted from Xero."""

import re
import unicodedata

from django.core.exceptions import ValidationError

API_KEY_MIN_LENGTH = 16
API_KEY_MAX_LENGTH = 64
API_SECRET_MIN_LENGTH = 16
API_SECRET_MAX_LENGTH = 128

API_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
# Printable ASCII without the space: what Xero's consumer and client secrets are made of.
API_SECRET_PATTERN = re.compile(r"[!-~]+")

MESSAGES = {
    "api_key_characters": (
        "The API Key may contain only the letters A–Z, digits, '-' and '_'. "
        "Copy the Consumer Key (or Client ID) again from Xero; it has no other characters."
    ),
    "api_key_length": (
        f"The API Key must be {API_KEY_MIN_LENGTH} to {API_KEY_MAX_LENGTH} characters long "
        "(this one has %(length)d). Copy the whole Consumer Key (or Client ID) from Xero."
    ),
    "api_secret_characters": (
        "The API Secret may contain only plain letters, digits and punctuation. "
        "Copy the Consumer Secret (or Client Secret) again from Xero."
    ),
    "name_characters": (
        "The name may not contain line breaks, tabs or invisible control characters "
        "(such as text-direction marks). Type it again rather than pasting it."
    ),
    "api_secret_length": (
        f"The API Secret must be {API_SECRET_MIN_LENGTH} to {API_SECRET_MAX_LENGTH} characters "
        "long (this one has %(length)d). Copy the whole Consumer Secret (or Client Secret)."
    ),
}


def clean_pasted_credential(value: str | None) -> str:
    """Drop what copying from a web page adds: white space, line breaks, zero-width marks."""
    if not value:
        return ""
    return "".join(
        ch for ch in value if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc")
    )


def _validate(value: str, *, pattern, min_length, max_length, name):
    if not pattern.fullmatch(value):
        raise ValidationError(MESSAGES[f"{name}_characters"], code=f"{name}_characters")
    if not min_length <= len(value) <= max_length:
        raise ValidationError(
            MESSAGES[f"{name}_length"], code=f"{name}_length", params={"length": len(value)}
        )


def validate_api_key(value: str) -> None:
    """A Consumer Key (30 upper-case letters and digits) or Client ID (32 hex)."""
    _validate(
        value,
        pattern=API_KEY_PATTERN,
        min_length=API_KEY_MIN_LENGTH,
        max_length=API_KEY_MAX_LENGTH,
        name="api_key",
    )


def validate_api_secret(value: str) -> None:
    """A Consumer Secret or Client Secret."""
    _validate(
        value,
        pattern=API_SECRET_PATTERN,
        min_length=API_SECRET_MIN_LENGTH,
        max_length=API_SECRET_MAX_LENGTH,
        name="api_secret",
    )


# Control (line breaks, NUL, tabs), format (bidi overrides, zero-width marks), surrogate and
# line/paragraph separator characters: a name is shown in pages, certificates and email
# headers, where each of these can hide text or break the header.
NAME_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def name_refused_characters(value: str) -> list[str]:
    return [ch for ch in value if unicodedata.category(ch) in NAME_REFUSED_CATEGORIES]


def validate_display_name(value: str) -> None:
    """A Site's name: printable text only."""
    if name_refused_characters(value):
        raise ValidationError(MESSAGES["name_characters"], code="name_characters")


def clean_display_name(value: str) -> str:
    """``value`` with each refused character made a space, and spaces run together."""
    return " ".join(
        "".join(
            " " if unicodedata.category(ch) in NAME_REFUSED_CATEGORIES else ch for ch in value
        ).split()
    )
