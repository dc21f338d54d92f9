"""api/webhooks.py and api/receivers.py: events from recorded tests, disconnections and the
fleet's alerts; signed deliveries to a receiver on 127.0.0.1, retried by a real worker;
pausing an endpoint that keeps failing; Send again."""

import datetime
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from api import webhooks
from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.xero.workers import DB_WORKER, manage, worker_environment
from xero.models import Alert, Certificate, ConnectionTest


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers ``statuses`` in turn (then 200) and keeps
    every request it got."""

    def __init__(self, *statuses: int):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*statuses):
        made.append(Receiver(*statuses))
        return made[-1]

    yield make
    for one in made:
        one.close()


def verified(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's check, as docs/api.md shows it."""
    expected = hmac.new(
        secret.encode(), headers["X-Warehouse-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers["X-Warehouse-Signature"])


def _record(site, outcome, *, minutes_ago=0):
    return ConnectionTest.objects.create(
        site=site,
        outcome=outcome,
        connection_type=site.connection_type,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


@pytest.mark.django_db(transaction=True)
def test_a_delivery_failing_twice_is_retried_by_the_worker_and_arrives_once_more_per_retry(
    site, receiver
):
    hook = receiver(500, 500)
    endpoint, secret = webhooks.endpoint_create(url=hook.url)
    _record(site, "ok", minutes_ago=5)

    _record(site, "invalid_client")  # the link fails: one event
    environment = worker_environment(_NoXero(), API_WEBHOOK_FIRST_RETRY_SECONDS="0")
    delivery = WebhookDelivery.objects.get()
    give_up = time.monotonic() + 60
    while delivery.state == "pending" and time.monotonic() < give_up:
        manage(environment, *DB_WORKER)
        delivery.refresh_from_db()

    assert delivery.state == "delivered" and delivery.attempts == 3
    assert [a.http_status for a in WebhookAttempt.objects.filter(delivery=delivery)] == [
        500,
        500,
        200,
    ]
    assert len(hook.requests) == 3
    bodies = {body for _, body in hook.requests}
    assert len(bodies) == 1  # the same event each time
    for headers, body in hook.requests:
        assert verified(secret, headers, body)
        assert headers["X-Warehouse-Event"] == "site.link_failed"
        assert headers["X-Warehouse-Delivery"] == str(delivery.pk)
    event = json.loads(bodies.pop())
    assert event["type"] == "site.link_failed" and event["id"] == str(delivery.event_id)
    assert event["site"]["code"] == "acme" and event["site"]["state"] == "failing"
    assert not verified("whsec_someone-else", *hook.requests[0])


class _NoXero:
    """The worker needs no Xero: its URLs point nowhere."""

    api_url = payroll_url = identity_url = connections_url = "http://127.0.0.1:9/"


def test_transitions_emit_one_event_each(
    site, make_site, receiver, django_capture_on_commit_callbacks
):
    hook = receiver()
    webhooks.endpoint_create(url=hook.url)

    _record(site, "ok", minutes_ago=9)  # first verdict, passing: nothing to tell
    _record(site, "invalid_client", minutes_ago=8)  # fails
    _record(site, "consumer_key_unknown", minutes_ago=7)  # still failing: nothing new
    _record(site, "rate_limited", minutes_ago=6)  # no verdict
    _record(site, "reconnect_needed", minutes_ago=5)
    _record(site, "no_organisation", minutes_ago=4)  # disconnected in Xero
    _record(site, "ok", minutes_ago=3)  # recovers

    assert list(
        WebhookDelivery.objects.order_by("created_at", "pk").values_list("event_type", flat=True)
    ) == [
        "site.link_failed",
        "site.reconnect_needed",
        "site.disconnected",
        "site.link_recovered",
    ]


def test_an_endpoint_gets_only_its_events_and_sites(site, make_site, receiver):
    other = make_site(code="other")
    hook = receiver()
    webhooks.endpoint_create(url=hook.url, events=["site.link_recovered"], sites=[other])

    _record(site, "invalid_client", minutes_ago=2)
    _record(site, "ok", minutes_ago=1)
    _record(other, "invalid_client", minutes_ago=2)
    _record(other, "ok", minutes_ago=1)

    assert list(WebhookDelivery.objects.values_list("site_code", "event_type")) == [
        ("other", "site.link_recovered")
    ]


def test_disconnecting_here_emits_disconnected(client_for, connected_site, receiver):
    hook = receiver()
    webhooks.endpoint_create(url=hook.url)

    client_for("admins").post(f"/sites/{connected_site.code}/xero/disconnect/", {"confirm": "1"})

    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "site.disconnected"
    assert json.loads(delivery.body)["site"]["state"] == "not_connected"


def test_a_certificate_entering_its_last_60_days_emits_once(site, issue_certificate, receiver):
    from xero.fleet_alerts import fleet_alerts_send

    hook = receiver()
    webhooks.endpoint_create(url=hook.url)
    issue_certificate(site)
    Certificate.objects.update(not_valid_after=timezone.now() + datetime.timedelta(days=30))

    fleet_alerts_send(site=site)
    fleet_alerts_send(site=site)

    assert Alert.objects.filter(kind="expiring").count() == 1
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == [
        "certificate.expiring"
    ]


def test_a_token_set_nearing_its_60_days_emits_once(connected_site, receiver):
    from xero.models import TokenSet

    hook = receiver()
    webhooks.endpoint_create(url=hook.url)
    TokenSet.objects.update(refresh_token_issued_at=timezone.now() - datetime.timedelta(days=50))

    _record(connected_site, "ok", minutes_ago=2)
    _record(connected_site, "ok", minutes_ago=1)

    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == [
        "token_set.expiring"
    ]


def test_an_endpoint_that_keeps_failing_is_paused_and_the_admins_told(
    site, receiver, make_user, settings
):
    settings.API_WEBHOOK_PAUSE_AFTER = 2
    settings.API_WEBHOOK_FIRST_RETRY_SECONDS = 0
    admin = make_user("Admins")
    admin.email = "admin@example.com"
    admin.save()
    hook = receiver(500, 500, 500)
    endpoint, _ = webhooks.endpoint_create(url=hook.url)
    _record(site, "invalid_client")
    delivery = WebhookDelivery.objects.get()

    states = [webhooks.delivery_attempt(delivery_id=delivery.pk) for _ in range(3)]

    endpoint.refresh_from_db()
    assert states == ["pending", "pending", "pending"]
    assert endpoint.paused_at is not None and "HTTP 500" in endpoint.paused_reason
    assert len(hook.requests) == 2  # the third attempt waits for the endpoint's resumption
    assert [m.subject for m in mail.outbox] == ["[Warehouse] Webhook endpoint paused"]
    webhooks.endpoint_resume(endpoint=endpoint)
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == "pending"


def test_admins_see_each_attempt_and_send_again(site, receiver, client_for, settings):
    settings.API_WEBHOOK_RETRY_SECONDS = 0  # no retry: it fails for good at once
    hook = receiver(500)
    webhooks.endpoint_create(url=hook.url)
    _record(site, "invalid_client")
    delivery = WebhookDelivery.objects.get()
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == "failed"
    client = client_for("admins")

    page = client.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/").content.decode()
    client.post(
        "/admin/api/webhookdelivery/",
        {"action": "send_again", "_selected_action": [delivery.pk]},
    )
    assert webhooks.delivery_attempt(delivery_id=delivery.pk) == "delivered"

    assert "500" in page and "the receiver answered HTTP 500" in page
    assert [status for status in WebhookAttempt.objects.values_list("http_status", flat=True)] == [
        500,
        200,
    ]


def test_admins_add_an_endpoint_and_see_its_secret_once(client_for, db):
    client = client_for("admins")

    page = client.post(
        "/admin/api/webhookendpoint/add/",
        {"url": "https://interconnect.example.com/hooks", "events": ["site.link_failed"]},
    )

    endpoint = WebhookEndpoint.objects.get()
    secret = page.content.decode().split('<code id="webhook-secret">')[1].split("</code>")[0]
    assert secret == endpoint.secret and secret.startswith("whsec_")
    detail = client.get(f"/admin/api/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert secret not in detail


def test_webhooks_send_queues_due_deliveries_whose_task_was_lost(site, receiver):
    import io

    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    hook = receiver()
    webhooks.endpoint_create(url=hook.url)
    _record(site, "invalid_client")  # its task is queued at commit, which never comes here
    out = io.StringIO()

    call_command("webhooks_send", stdout=out)

    assert "Queued 1 webhook deliveries." in out.getvalue()
    assert DBTaskResult.objects.filter(task_path="api.webhooks.deliver").count() == 1
