"""xero/values.py: what is taken from Xero's answers, checked before anything uses it."""

import pytest

from xero import values


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1800, 1800),
        (1800.0, 1800),
        ("1800", 1800),
        (1, 1),
        (86_400, 86_400),
        (86_401, None),
        (10**20, None),
        (1e300, None),
        (float("inf"), None),
        (float("nan"), None),
        (0, None),
        (-5, None),
        (1.5, None),
        ("1.5", None),
        ("-5", None),
        (" 1800", None),
        ("1_800", None),
        ("١٨٠٠", None),  # Arabic-Indic digits, which int() would take
        ("9" * 5000, None),  # too long for int() at all
        (True, None),
        (False, None),
        (None, None),
        ([1800], None),
        ({"seconds": 1800}, None),
    ],
)
def test_seconds_are_a_whole_number_from_one_to_the_bound_or_none(value, seconds):
    assert values.seconds(value, at_most=86_400) == seconds


@pytest.mark.parametrize(
    ("value", "keep_line_breaks", "text"),
    [
        ("Acme  Pty\tLtd ", False, "Acme Pty Ltd"),
        ("Acme\x00Pty\u202eLtd\u200b", False, "Acme Pty Ltd"),
        ("line one\nline\x07two", True, "line one\nline two"),
        ("line one\nline two", False, "line one line two"),
        ("Ōtautahi Café 🥝", False, "Ōtautahi Café 🥝"),
        ("\ue000private", False, "private"),
        (None, False, ""),
        (42, False, "42"),
    ],
)
def test_text_replaces_unsafe_characters_and_keeps_printable_ones(value, keep_line_breaks, text):
    assert values.text(value, keep_line_breaks=keep_line_breaks) == text


def test_text_is_cut_to_its_column():
    assert values.text("Acme Pty Ltd", 4) == "Acme"
