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
