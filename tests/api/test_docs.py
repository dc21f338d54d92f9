"""docs/api.md: its ten-line webhook receiver, run as written, accepts the Warehouse's
signed deliveries and refuses one signed with another secret."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.utils import timezone

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from xero.models import ConnectionTest

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def receiver_snippet() -> str:
    text = DOC.read_text()
    section = text[text.index("A receiver that verifies it") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_receiver_is_ten_lines():
    assert len(receiver_snippet().strip().splitlines()) == 10


def test_the_documented_receiver_accepts_our_deliveries_and_refuses_forgeries(
    site, tmp_path, free_tcp_port
):
    endpoint, secret = webhooks.endpoint_create(url=f"http://127.0.0.1:{free_tcp_port}/")
    script = tmp_path / "receiver.py"
    script.write_text(receiver_snippet())
    process = subprocess.Popen(
        [sys.executable, str(script)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "WAREHOUSE_WEBHOOK_SECRET": secret,
            "PORT": str(free_tcp_port),
        },
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + 20
        while True:
            try:
                requests.get(endpoint.url, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < give_up, "the receiver never started"
                time.sleep(0.05)
        ConnectionTest.objects.create(
            site=site,
            outcome="invalid_client",
            connection_type=site.connection_type,
            started_at=timezone.now(),
        )
        genuine = WebhookDelivery.objects.get()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret="whsec_not-the-one")
        ConnectionTest.objects.create(
            site=site,
            outcome="ok",
            connection_type=site.connection_type,
            started_at=timezone.now(),
        )
        forged = WebhookDelivery.objects.exclude(pk=genuine.pk).get()

        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)
        assert webhooks.delivery_attempt(delivery_id=genuine.pk) == "delivered"
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret="whsec_not-the-one")
        assert webhooks.delivery_attempt(delivery_id=forged.pk) == "pending"
        assert forged.attempt_rows.get().http_status == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
