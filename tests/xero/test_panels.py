"""The pages' contexts (xero/panels.py): how certificates read in a list."""

import datetime

import pytest
from django.utils import timezone

from xero.panels import certificate_summary


@pytest.mark.parametrize(
    ("days", "pending", "text", "flagged"),
    [
        (None, False, "None", False),
        (None, True, "Pending", False),
        (100, False, "Active, 100 days left", False),
        (59, True, "Active, 59 days left (new one pending)", True),
        (-1, False, "Expired", True),
    ],
)
def test_certificate_summary(days, pending, text, flagged):
    now = timezone.now()
    expires = None if days is None else now + datetime.timedelta(days=days, hours=1)
    if days is not None and days < 0:
        expires = now - datetime.timedelta(hours=1)
    assert certificate_summary(expires_at=expires, has_pending=pending, now=now) == (text, flagged)
