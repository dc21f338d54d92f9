"""How long ago (warehouse/ages.py): one wording for the Site list, the pages and the messages."""

import datetime

import pytest
from django.utils import timezone

from warehouse.ages import ago, duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "just now"),
        (1, "1 second ago"),
        (5, "5 seconds ago"),
        (60, "1 minute ago"),
        (7200, "2 hours ago"),
        (86400 * 3 + 5000, "3 days ago"),
        (-30, "just now"),
    ],
)
def test_an_age_shows_its_largest_unit(seconds, text):
    now = timezone.now()
    assert ago(now - datetime.timedelta(seconds=seconds), now) == text


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
def test_a_duration_reads_in_its_two_largest_units(seconds, text):
    assert duration(seconds) == text
