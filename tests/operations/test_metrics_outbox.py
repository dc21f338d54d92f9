"""/metrics counts the outbox's emails by state, and how long the oldest unsent one waits."""

import datetime

import pytest
from django.utils import timezone

from outbox.models import OutboxMessage
from tests.operations.test_metrics import metrics_token, scrape  # noqa: F401

pytestmark = pytest.mark.django_db


def test_outbox_gauges(client, metrics_token):  # noqa: F811
    now = timezone.now()
    for state, age in [("queued", 300), ("queued", 10), ("sent", 0), ("failed", 0)]:
        OutboxMessage.objects.create(
            created_at=now - datetime.timedelta(seconds=age),
            state=state,
            subject=state,
            from_email="w@x",
        )

    samples = scrape(client)

    assert samples['warehouse_outbox_emails{state="queued"}'] == 2
    assert samples['warehouse_outbox_emails{state="sent"}'] == 1
    assert samples['warehouse_outbox_emails{state="failed"}'] == 1
    assert 299 < samples["warehouse_outbox_oldest_queued_age_seconds"] < 360
