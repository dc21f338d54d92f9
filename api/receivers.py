"""Signal receivers of the API app, on the Xero app's models (``xero`` never imports ``api``):

- the ``since`` cursor's stamp (``SiteStamp``) moves when anything a status shows changes;
- webhook events: a recorded test whose verdict moves the Site to another kind of state
  (fails, recovers, disconnected in Xero, needs reconnecting), a disconnection here, a
  certificate entering its last 60 days (the fleet's alert), a token set whose refresh
  token nears Xero's 60 days.

Each receiver is a few queries and an insert: the deliveries themselves are tasks.
"""

import contextlib
import functools
import logging
import time
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from sites.models import Site
from warehouse import database
from xero.models import (
    REFRESH_TOKEN_LIFETIME,
    REFRESH_TOKEN_WARNING,
    Alert,
    Certificate,
    ConnectionTest,
    TenantBinding,
)

from . import webhooks
from .models import EmittedEvent, SiteStamp, WebhookEvent

logger = logging.getLogger(__name__)

Outcome = ConnectionTest.Outcome
# The outcome codes this module tells apart (members of ``Outcome``, built from the
# exceptions' codes, so named here by value).
OK, RUNNING, RECONNECT_NEEDED = "ok", "running", "reconnect_needed"
DISCONNECTED_OUTCOMES = {"no_organisation", "not_connected", "disconnected_in_xero"}


def stamp_after_commit(site_id: int) -> None:
    """Stamp ``site_id`` once the change commits: one statement outside the change's
    transaction (no savepoint in a fleet check's save), and a stamp never earlier than the
    change is visible. A failure is logged, never raised into the change."""
    database.after_commit(stamp, site_id)


# How long a stamp the database kept out is tried again: a lost stamp hides the change
# from every ``since`` reader for good, so it is worth a thread's wait.
STAMP_RETRY_SECONDS = 60


def stamp(site_id: int) -> None:
    """Mark ``site_id``'s status changed now (one upsert); a Site deleted meanwhile has
    nothing to stamp. When the database is locked past the change's own wait (a fleet
    check's budget spent), the stamp is written as soon as it is free."""
    try:
        _touch(site_id)
    except OperationalError:
        database.write_when_free(
            functools.partial(_touch, site_id),
            until=time.monotonic() + STAMP_RETRY_SECONDS,
            name=f"Stamping site {site_id}'s change",
        )


def _touch(site_id: int) -> None:
    # Run after the commit, so in autocommit: a failed insert spoils no transaction.
    with contextlib.suppress(IntegrityError):
        SiteStamp.objects.touch(site_id, timezone.now())


def _category(outcome: str) -> str:
    if outcome == OK:
        return "ok"
    if outcome == RECONNECT_NEEDED:
        return "reconnect_needed"
    if outcome in DISCONNECTED_OUTCOMES:
        return "disconnected"
    return "failed"


EVENT_OF = {
    "ok": WebhookEvent.LINK_RECOVERED,
    "failed": WebhookEvent.LINK_FAILED,
    "reconnect_needed": WebhookEvent.RECONNECT_NEEDED,
    "disconnected": WebhookEvent.DISCONNECTED,
}


def _once(key: str) -> bool:
    """True the first time ``key`` is told, False ever after."""
    try:
        with transaction.atomic():
            EmittedEvent.objects.create(key=key[:120])
    except IntegrityError:
        return False
    return True


def _safely(receiver):
    # An event lost is better than a test's result or a disconnect lost: log, never raise.
    def run(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):
            return
        try:
            with transaction.atomic():
                receiver(*args, **kwargs)
        except Exception:
            logger.exception("API receiver %s failed", receiver.__name__)

    run.__name__ = receiver.__name__
    return run


def on_test_saved(sender: type, instance: ConnectionTest, **kwargs: Any) -> None:
    if kwargs.get("raw") or instance.outcome == RUNNING:
        return
    stamp_after_commit(instance.site_id)
    if instance.outcome not in Outcome.not_a_verdict() and webhooks.any_endpoint():
        _test_events(sender, instance, **kwargs)


@_safely
def _test_events(sender: type, instance: ConnectionTest, **kwargs: Any) -> None:
    previous = (
        ConnectionTest.objects.filter(site_id=instance.site_id)
        .exclude(pk=instance.pk)
        .exclude(outcome__in=Outcome.not_a_verdict())
        .order_by("-started_at", "-pk")
        .values_list("outcome", flat=True)
        .first()
    )
    now_category = _category(instance.outcome)
    site = Site.objects.get(pk=instance.site_id)
    if (previous is None and now_category != "ok") or (
        previous is not None and _category(previous) != now_category
    ):
        webhooks.emit(event_type=EVENT_OF[now_category], site=site)
    if site.connection_type == Site.ConnectionType.WEB_APP:
        _token_set_age(site)


def _token_set_age(site: Site) -> None:
    binding = TenantBinding.objects.select_related("token_set").filter(site=site).first()
    if binding is None:
        return
    token_set = binding.token_set
    near = timezone.now() - (REFRESH_TOKEN_LIFETIME - REFRESH_TOKEN_WARNING)
    if token_set.refresh_token_issued_at < near and _once(
        f"token_set:{token_set.pk}:{site.pk}:{token_set.refresh_token_issued_at.timestamp():.0f}"
    ):
        webhooks.emit(event_type=WebhookEvent.TOKEN_SET_EXPIRING, site=site)


def on_binding_saved(sender: type, instance: TenantBinding, **kwargs: Any) -> None:
    stamp_after_commit(instance.site_id)


@_safely
def on_binding_deleted(sender: type, instance: TenantBinding, **kwargs: Any) -> None:
    site = Site.objects.filter(pk=instance.site_id).first()
    if site is None:
        return
    stamp_after_commit(site.pk)
    if webhooks.any_endpoint():
        webhooks.emit(event_type=WebhookEvent.DISCONNECTED, site=site)


@_safely
def on_alert_saved(sender: type, instance: Alert, created: bool = False, **kwargs: Any) -> None:
    if created and instance.kind == Alert.Kind.EXPIRING and webhooks.any_endpoint():
        webhooks.emit(event_type=WebhookEvent.CERTIFICATE_EXPIRING, site=instance.site)


def on_certificate_saved(sender: type, instance: Certificate, **kwargs: Any) -> None:
    # Only the active certificate's expiry is in the status (a retired one is replaced by
    # a newly active one, saved too); a pending one changes nothing shown.
    if instance.state == Certificate.State.ACTIVE and not kwargs.get("raw"):
        stamp_after_commit(instance.site_id)


def on_site_saved(sender: type, instance: Site, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        stamp_after_commit(instance.pk)


def connect() -> None:
    """Connect the receivers (called once from ``ApiConfig.ready``)."""
    post_save.connect(on_test_saved, sender=ConnectionTest, dispatch_uid="api.test_saved")
    post_save.connect(on_binding_saved, sender=TenantBinding, dispatch_uid="api.binding_saved")
    post_delete.connect(
        on_binding_deleted, sender=TenantBinding, dispatch_uid="api.binding_deleted"
    )
    post_save.connect(on_alert_saved, sender=Alert, dispatch_uid="api.alert_saved")
    post_save.connect(on_certificate_saved, sender=Certificate, dispatch_uid="api.cert_saved")
    post_save.connect(on_site_saved, sender=Site, dispatch_uid="api.site_saved")
