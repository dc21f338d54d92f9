"""Values taken from Xero's answers, made safe to save: one place decides how.

Whatever Xero (or whatever answers in its place) sends is checked before it reaches a
column: a boolean only when it is a boolean, an integer clamped to its column,
text without NUL or other control and format characters, cut to the column's length,
a number of seconds only when it is a whole one in the range the caller can use.
"""

import unicodedata

from django.db import connection, models

# Control, format (bidi overrides, zero-width marks), surrogate, private-use and
# unassigned characters: none belongs in a name Xero shows, and NUL breaks PostgreSQL.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def text(value, max_length: int | None = None, *, keep_line_breaks: bool = False) -> str:
    """``value`` as text without unsafe characters, at most ``max_length`` long."""
    if value is None:
        return ""
    value = str(value)
    # Printable text has no character of the unsafe categories (Python counts them all
    # unprintable): the usual answer skips the character-by-character look.
    if value.isprintable():
        kept = value
    else:
        kept = _replace_unsafe(value, keep_line_breaks=keep_line_breaks)
    if not keep_line_breaks:
        kept = " ".join(kept.split())
    return kept[:max_length] if max_length is not None else kept


def _replace_unsafe(value: str, *, keep_line_breaks: bool) -> str:
    return "".join(
        ch
        if unicodedata.category(ch) not in UNSAFE_CATEGORIES or (keep_line_breaks and ch == "\n")
        else " "
        for ch in value
    )


def boolean(value) -> bool | None:
    """``value`` when it is a boolean, else None (unknown): "yes" is not an answer."""
    return value if isinstance(value, bool) else None


def integer(value, field: models.Field) -> int | None:
    """``value`` when it is a whole number, clamped to what ``field``'s column holds."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


def seconds(value, *, at_most: int) -> int | None:
    """``value`` when it is a whole number of seconds from 1 to ``at_most``, else None.

    A JSON number (a float only when whole) or a string of ASCII digits, as OAuth servers
    send lifetimes; never a boolean (``true`` is not 1 second), infinity or NaN.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        # Longer than the bound's digits is over it; int() of a long string costs time.
        if not (value.isascii() and value.isdigit()) or len(value) > len(str(at_most)):
            return None
        value = int(value)
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    elif not isinstance(value, int):
        return None
    return value if 1 <= value <= at_most else None


def for_field(field: models.Field, value):
    """``value`` made safe for ``field``'s column (text, boolean and integer columns)."""
    if value is None and field.null:
        return None
    if isinstance(field, models.BooleanField):
        return boolean(value)
    if isinstance(field, models.IntegerField):
        return integer(value, field)
    if isinstance(field, models.CharField | models.TextField):
        return text(
            value,
            field.max_length,
            keep_line_breaks=isinstance(field, models.TextField),
        )
    return value
