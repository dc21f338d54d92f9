"""The Xero pages' template filters."""

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
    from xero.templatetags.xero_tags import ago

    now = timezone.now()
    assert ago(now - datetime.timedelta(seconds=seconds), now) == text


def test_no_time_reads_as_nothing():
    from xero.templatetags.xero_tags import ago

    assert ago(None) == ""
