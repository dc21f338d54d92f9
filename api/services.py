"""Writes of the API: hand out a Site's Xero access token or an OAuth 1.0a signature, and
count each hand-out in the audit trail.

The Xero conversation is ``xero``'s: a token comes from the Site's connection type
(``xero.connection``), refreshed under the lock the connection test uses, and a signature
from ``xero.client.oauth1_auth``. Nothing here speaks Xero's protocol.
"""

import datetime
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sites import audit
from sites.models import AuditEntry, Site
from xero import connection as xero_connection
from xero import exceptions as xero_exceptions
from xero import web_app
from xero.client import BearerAuth, oauth1_auth
from xero.models import AccessToken, Certificate
from xero.services import connection_test_run

from . import errors
from .models import ApiCredential, HandOut

logger = logging.getLogger(__name__)

TOKEN_TYPES = (Site.ConnectionType.CUSTOM_CONNECTION, Site.ConnectionType.WEB_APP)


@dataclass(frozen=True)
class HandedToken:
    access_token: str
    expires_at: datetime.datetime
    tenant_id: str | None
    scopes: list[str]


def _margin() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.API_ACCESS_TOKEN_MARGIN)


def _wrong_type(site: Site, wanted: str) -> errors.ApiError:
    return errors.formatted(
        errors.WrongConnectionType, wanted=wanted, actual=site.get_connection_type_display()
    )


def access_token_hand_out(
    *, site: Site, credential: ApiCredential, now: datetime.datetime | None = None
) -> HandedToken:
    """A working access token of ``site`` with more than ``API_ACCESS_TOKEN_MARGIN`` left.

    The cached token while it lasts; else a refresh, through the connection type's own
    ``authenticate(renew=True)``: for Connect to Xero that is ``xero.web_app``'s refresh
    under the token set's lock, so that callers in any number of processes cause one
    refresh per token set; for a Custom Connection it runs under the Site's row lock (the
    lock a connection test takes when it starts), so concurrent callers fetch one token.
    Xero refusing the refresh (``invalid_grant``) is ``reconnect_needed``, and the Site is
    tested at once so that its state changes as any failed test changes it.
    """
    if site.connection_type not in TOKEN_TYPES:
        raise _wrong_type(site, "Custom Connection and Connect to Xero")
    now = now or timezone.now()
    try:
        # A Custom Connection takes the lock only to renew: the cached path writes nothing.
        if site.connection_type == Site.ConnectionType.CUSTOM_CONNECTION and not (
            AccessToken.objects.filter(site=site, expires_at__gt=now + _margin()).exists()
        ):
            with transaction.atomic():
                Site.objects.select_for_update().filter(pk=site.pk).values_list("pk").first()
                handed = _fresh_token(site, now=now)
        else:
            handed = _fresh_token(site, now=now)
    except xero_exceptions.ReconnectNeeded as failure:
        _test_after_refusal(site)
        raise _refused(failure) from None
    except xero_exceptions.ConnectionTestFailed as failure:
        raise _refused(failure) from None
    except xero_exceptions.XeroError as failure:
        raise _refused(failure) from None
    handout_record(credential=credential, site=site, kind=HandOut.Kind.ACCESS_TOKEN, now=now)
    return handed


def _fresh_token(site: Site, *, now: datetime.datetime) -> HandedToken:
    conversation = xero_connection.connection_for(site, now=now)
    session = conversation.open()
    expires_at = _expiry(conversation)
    if expires_at <= now + _margin():
        session.auth = conversation.authenticate(session, renew=True)
        expires_at = _expiry(conversation)
    auth = session.auth
    if not isinstance(auth, BearerAuth):
        raise TypeError(f"{site.connection_type} did not authenticate with a Bearer token")
    token = auth.access_token
    binding = getattr(conversation, "binding", None)
    if binding is not None:
        scopes = binding.token_set.scopes.split()
    else:
        scope = web_app.jwt_claims(token).get("scope", [])
        scopes = scope.split() if isinstance(scope, str) else [str(s) for s in scope]
    return HandedToken(
        access_token=token,
        expires_at=expires_at,
        tenant_id=binding.tenant_id if binding is not None else None,
        scopes=scopes,
    )


def _expiry(conversation) -> datetime.datetime:
    binding = getattr(conversation, "binding", None)
    if binding is not None:
        return binding.token_set.access_token_expires_at
    return AccessToken.objects.values_list("expires_at", flat=True).get(site=conversation.site)


def _test_after_refusal(site: Site) -> None:
    """Record Xero's refusal as a connection test would (no call reaches Xero: the token set
    is already marked ``reconnect_needed``), so the state, alerts and webhooks follow."""
    try:
        connection_test_run(site=site)
    except xero_exceptions.XeroError as busy:
        # A test of the Site started moments ago (cooldown) or the database is busy: that
        # test, or the next, records the same refusal.
        logger.info("Site %s not tested after a refused refresh: %s", site.code, busy.code)


def _refused(failure: xero_exceptions.XeroError) -> errors.XeroRefused:
    # The Site's link is the problem (409), or Xero answering badly or not at all (502).
    upstream = (
        xero_exceptions.XeroUnavailable,
        xero_exceptions.XeroTimeout,
        xero_exceptions.XeroUnreachable,
        xero_exceptions.TLSFailure,
        xero_exceptions.UnexpectedResponse,
        xero_exceptions.RateLimited,
        xero_exceptions.WarehouseBusy,
    )
    status = 502 if isinstance(failure, upstream) else 409
    return errors.XeroRefused(code=failure.code, message=failure.message, status=status)


SIGNABLE_METHODS = ("GET", "POST", "PUT", "DELETE")


def _allowed_base(url: str) -> bool:
    """Whether ``url`` is under XERO_API_URL or XERO_PAYROLL_URL: same scheme, host and port,
    and a path that starts with the base's path at a segment boundary, without dot
    segments that could climb out of it."""
    try:
        target = urlsplit(url)
        target.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    if target.username or target.password or target.fragment:
        return False
    segments = target.path.split("/")
    if any(segment in (".", "..") or "%2e" in segment.lower() for segment in segments):
        return False
    for base_url in (settings.XERO_API_URL, settings.XERO_PAYROLL_URL):
        base = urlsplit(base_url)
        prefix = base.path.rstrip("/") + "/"
        if (
            target.scheme == base.scheme
            and target.netloc.lower() == base.netloc.lower()
            and (target.path + "/").startswith(prefix)
        ):
            return True
    return False


def signature_hand_out(
    *,
    site: Site,
    credential: ApiCredential,
    method: str,
    url: str,
    now: datetime.datetime | None = None,
) -> str:
    """The ``Authorization`` header of an OAuth 1.0a RSA-SHA1 request ``method url``, signed
    as ``site``'s private application with its active certificate (the key stays here)."""
    if site.connection_type != Site.ConnectionType.PRIVATE_APP:
        raise _wrong_type(site, "private application")
    if not _allowed_base(url):
        raise errors.formatted(
            errors.UrlNotAllowed, api=settings.XERO_API_URL, payroll=settings.XERO_PAYROLL_URL
        )
    if not site.api_key:
        raise _refused(xero_exceptions.CredentialsMissing(missing="API Key"))
    certificate = Certificate.objects.filter(site=site).active().first()
    if certificate is None:
        raise _refused(xero_exceptions.CertificateMissing())
    prepared = requests.Request(method, url).prepare()
    signed = oauth1_auth(consumer_key=site.api_key, certificate=certificate)(prepared)
    header = signed.headers["Authorization"]
    handout_record(credential=credential, site=site, kind=HandOut.Kind.SIGNATURE, now=now)
    return header.decode() if isinstance(header, bytes) else header


def handout_record(
    *, credential: ApiCredential, site: Site, kind: str, now: datetime.datetime | None = None
) -> None:
    """Count a hand-out: one ``HandOut`` row per credential, Site, kind and hour, and one
    audit row when that hour's first hand-out happens (the trail is append-only)."""
    now = now or timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    key = {"credential": credential, "site": site, "kind": kind, "hour": hour}
    if HandOut.objects.filter(**key).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            HandOut.objects.create(count=1, **key)
            audit.record(
                kind=AuditEntry.Kind.API_HANDOUT,
                site=site,
                target=credential,
                summary=(
                    f"{HandOut.Kind(kind).label} to API credential “{credential.name}” "
                    f"({credential.display_id}), first this hour ({hour:%Y-%m-%d %H}:00 UTC); "
                    "the hour's count is under API hand-outs"
                ),
                at=now,
            )
    except IntegrityError:
        # Another process made the hour's row first: count on it.
        HandOut.objects.filter(**key).update(count=F("count") + 1)
