"""Times as a person writes them."""

import datetime

import pytest
from django.utils import timezone


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "just now"),
        (60, "1 minute ago"),
        (7200, "2 hours ago"),
        (86400 * 3 + 5000, "3 days ago"),
    ],
)
def test_ages_in_the_list_show_the_largest_unit_and_just_now_under_a_minute(seconds, text):
    from xero.humanize import ago

    now = timezone.now()
    assert ago(now - datetime.timedelta(seconds=seconds), now) == text


def test_no_time_reads_as_nothing():
    from xero.humanize import ago

    assert ago(None) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (45, "45 seconds"),
        (60, "1 minute"),
        (90, "1 minute 30 seconds"),
        (3600, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (86400 + 30, "1 day"),
    ],
)
def test_durations_read_in_the_two_largest_units(seconds, text):
    from xero.humanize import duration

    assert duration(seconds) == text
