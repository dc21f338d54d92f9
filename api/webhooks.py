"""Webhooks out: tell receivers when a Site's link changes, signed, retried for a day.

``emit`` turns an event into one ``WebhookDelivery`` per endpoint that wants it (its body
fixed then) and queues a task (``deliver``, here: the module that queues it holds it) for
each once the transaction commits, so a request or a
fleet check never waits for a receiver. ``delivery_attempt`` (run by the ``deliver`` task)
sends it once; a failure is retried with exponential back-off until
``API_WEBHOOK_RETRY_SECONDS`` after the event, and an endpoint whose deliveries failed
``API_WEBHOOK_PAUSE_AFTER`` times in a row is paused and the Admins are emailed.

Each request carries ``X-Warehouse-Signature: sha256=<hex>``, the HMAC-SHA256 under the
endpoint's secret of ``<X-Warehouse-Timestamp>.<raw body>``, so a receiver can check both
who sent it and that it is fresh (docs/api.md has a receiver).
"""

import datetime
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from sites import audit
from sites.models import AuditEntry, Site
from sites.roles import ADMINS
from warehouse import database

from . import selectors
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
# Each retry waits twice as long as the one before (API_WEBHOOK_FIRST_RETRY_SECONDS, then
# 2, 4 … times it), at most this long.
MAX_RETRY_WAIT = datetime.timedelta(hours=4)


def endpoint_create(
    *, url: str, description: str = "", events=(), sites=(), created_by=None
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; return it and its signing secret (shown once, stored encrypted)."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        endpoint = WebhookEndpoint(
            url=url,
            description=description,
            events=sorted(set(events)),
            secret=secret,
            created_by=created_by,
        )
        endpoint.full_clean(exclude=["secret"])
        endpoint.save()
        endpoint.sites.set(sites)
        endpoints_forget()
        audit.record(
            kind=AuditEntry.Kind.WEBHOOK_ENDPOINT_CREATED,
            target=endpoint,
            actor=created_by,
            summary=f"{url}: {', '.join(endpoint.events) or 'every event'}",
        )
    return endpoint, secret


_endpoints_seen = {"at": -1e9, "any": False}
ENDPOINTS_RECHECK_SECONDS = 5.0


def any_endpoint() -> bool:
    """Whether any endpoint listens, read at most every few seconds per process, so a fleet
    check with no webhooks configured costs no query for them."""
    if time.monotonic() - _endpoints_seen["at"] > ENDPOINTS_RECHECK_SECONDS:
        _endpoints_seen["any"] = WebhookEndpoint.objects.filter(paused_at__isnull=True).exists()
        _endpoints_seen["at"] = time.monotonic()
    return bool(_endpoints_seen["any"])


def endpoints_forget() -> None:
    """Read the endpoints again at the next event (after one is added or resumed)."""
    _endpoints_seen["at"] = -1e9


def endpoint_resume(*, endpoint: WebhookEndpoint) -> None:
    """Resume a paused endpoint and send what waited meanwhile."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        paused_at=None, paused_reason="", failures_in_a_row=0
    )
    endpoints_forget()
    for delivery in WebhookDelivery.objects.filter(
        endpoint=endpoint, state=WebhookDelivery.State.PENDING
    ):
        _queue(delivery)


def delivery_send_again(*, delivery: WebhookDelivery) -> None:
    """*Send again*: one more attempt now, whatever happened before."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now()
    )
    _queue(delivery)


def deliveries_queue_due(*, now: datetime.datetime | None = None) -> int:
    """Queue a task for every pending delivery whose time has come, on live endpoints."""
    due = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now or timezone.now(),
        endpoint__paused_at__isnull=True,
    )
    count = 0
    for delivery in due:
        _queue(delivery)
        count += 1
    return count


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Warehouse-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def site_status(site: Site) -> dict[str, Any] | None:
    annotated = selectors.with_status(Site.objects.filter(pk=site.pk)).first()
    return selectors.status_of(annotated) if annotated is not None else None


def emit(*, event_type: str, site: Site, status: dict[str, Any] | None = None) -> int:
    """Queue ``event_type`` about ``site`` for every live endpoint that wants it; how many."""
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(paused_at__isnull=True).prefetch_related(
            "sites"
        )
        if endpoint.wants(event_type)
        and (not endpoint.sites.all() or site.pk in {s.pk for s in endpoint.sites.all()})
    ]
    if not endpoints:
        return 0
    event_id = uuid.uuid4()
    body = json.dumps(
        {
            "id": str(event_id),
            "type": event_type,
            "created_at": timezone.now(),
            "site": status if status is not None else site_status(site),
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
    for endpoint in endpoints:
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=event_id,
            event_type=event_type,
            site_code=site.code,
            body=body,
            next_attempt_at=timezone.now(),
        )
        database.after_commit(_queue, delivery)
    return len(endpoints)


def _queue(delivery: WebhookDelivery, *, at: datetime.datetime | None = None) -> None:
    try:
        if at is None:
            deliver.enqueue(delivery_id=delivery.pk)
        else:
            deliver.using(run_after=at).enqueue(delivery_id=delivery.pk)
    except Exception:
        # The delivery stays pending with its time: `manage.py webhooks_send` queues it.
        logger.exception("Could not queue webhook delivery %s", delivery.pk)


@task()
def deliver(*, delivery_id: int) -> str:
    """The background task: one attempt of one delivery (a retry queues itself)."""
    return delivery_attempt(delivery_id=delivery_id)


def delivery_attempt(*, delivery_id: int, now: datetime.datetime | None = None) -> str:
    """Send one delivery once, record the attempt, schedule a retry; return its state."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
            return delivery.state if delivery else "gone"
        if delivery.endpoint.paused_at is not None:
            return delivery.state
        # Claimed: a second task for the same delivery finds it already attempted.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=F("attempts") + 1, next_attempt_at=None
        )
    endpoint = delivery.endpoint
    status, error, took = _post(endpoint, delivery)
    WebhookAttempt.objects.create(
        delivery=delivery, at=now, http_status=status, error=error, duration_ms=took
    )
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.DELIVERED)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failures_in_a_row=0)
        return WebhookDelivery.State.DELIVERED
    _endpoint_failed(endpoint, reason=error or f"HTTP {status}")
    attempts = delivery.attempts + 1
    first = datetime.timedelta(seconds=settings.API_WEBHOOK_FIRST_RETRY_SECONDS)
    wait = min(first * 2 ** (attempts - 1), MAX_RETRY_WAIT)
    give_up = delivery.created_at + datetime.timedelta(seconds=settings.API_WEBHOOK_RETRY_SECONDS)
    if now + wait > give_up:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.FAILED)
        return WebhookDelivery.State.FAILED
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + wait)
    _queue(delivery, at=now + wait)
    return WebhookDelivery.State.PENDING


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str, int]:
    body = delivery.body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Warehouse-Webhooks/1",
        "X-Warehouse-Event": delivery.event_type,
        "X-Warehouse-Delivery": str(delivery.pk),
        "X-Warehouse-Event-Id": str(delivery.event_id),
        "X-Warehouse-Timestamp": timestamp,
        "X-Warehouse-Signature": sign(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    started = time.monotonic()
    session = requests.Session()
    session.trust_env = False
    try:
        response = session.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=settings.API_WEBHOOK_TIMEOUT,
            allow_redirects=False,
            stream=True,
        )
        response.close()  # the answer's body says nothing we need
        status, error = response.status_code, ""
        if not 200 <= status < 300:
            error = f"the receiver answered HTTP {status}"
    except requests.RequestException as failure:
        status, error = None, f"{type(failure).__name__}: {failure}"[:300]
    finally:
        session.close()
    return status, error, round((time.monotonic() - started) * 1000)


def _endpoint_failed(endpoint: WebhookEndpoint, *, reason: str) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failures_in_a_row=F("failures_in_a_row") + 1
    )
    paused = WebhookEndpoint.objects.filter(
        pk=endpoint.pk,
        paused_at__isnull=True,
        failures_in_a_row__gte=settings.API_WEBHOOK_PAUSE_AFTER,
    ).update(paused_at=timezone.now(), paused_reason=f"failing: {reason}"[:300])
    if paused:
        _tell_admins(endpoint, reason=reason)


def _tell_admins(endpoint: WebhookEndpoint, *, reason: str) -> None:
    recipients = sorted(
        set(
            get_user_model()
            .objects.filter(groups__name=ADMINS, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    logger.warning("Webhook endpoint %s paused after repeated failures", endpoint.pk)
    if not recipients:
        return
    try:
        send_mail(
            "[Warehouse] Webhook endpoint paused",
            f"Deliveries to {endpoint.url} failed {settings.API_WEBHOOK_PAUSE_AFTER} times in "
            f"a row (last: {reason}), so it is paused. Fix the receiver, then select the "
            "endpoint under Interconnect API › Webhook endpoints and run *Resume*: what "
            "waited is sent then.",
            None,
            recipients,
        )
    except Exception:
        logger.exception("Could not email the Admins about webhook endpoint %s", endpoint.pk)
