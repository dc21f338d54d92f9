"""How long ago (xero/ages.py): one wording for the Site list, the pages and the messages."""

import datetime

import pytest
from django.utils import timezone

from xero.ages import ago


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
