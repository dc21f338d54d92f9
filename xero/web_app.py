"""The protocol of "Connect to Xero", Xero's standard web app (OAuth 2.0 authorization code
with PKCE), and its token sets; the connection type itself is ``xero/connection/web_app.py``
and the browser's flow ``xero/connect.py``.

- ``authorize_url`` builds where the browser goes to sign in and consent;
- ``exchange_code``, ``read_connections``, ``delete_connection`` and ``revoke`` are the
  calls to Xero's identity server and ``/connections``, each answer mapped to an outcome;
- ``access_token`` hands out a live access token of a ``TokenSet``, refreshing it first
  when it has expired. Xero rotates the refresh token at each refresh and keeps the old
  one usable for 30 minutes only, so a refresh runs under a guard on the token set (an
  advisory lock on PostgreSQL, a lease on its row elsewhere: ``refresh_guard``; never a
  database write lock across the call to Xero), re-reads it once it holds the guard
  (another worker may have just refreshed it), and stores the new pair before anything
  uses it. An answer lost on the way leaves the old pair stored,
  which the grace period lets the next attempt use.

Every HTTP call goes through ``client.XeroSession``, so the timeouts, deadline and call
limits are those of the other connection types.
"""

import base64
import collections
import contextlib
import datetime
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from oauthlib.oauth2 import WebApplicationClient

from . import client, exceptions, values
from .models import TokenSet

logger = logging.getLogger(__name__)

# Scopes asked for besides XERO_SCOPES: a refresh token (offline_access), and who the
# Xero user is (openid profile email), so that pages can name who connected a Site.
IDENTITY_SCOPES = ("offline_access", "openid", "profile", "email")
# RFC 7636 allows 43 to 128 characters.
CODE_VERIFIER_LENGTH = 64
# Refresh a little before Xero's expiry, so a request never leaves with a dying token.
ACCESS_TOKEN_MARGIN = datetime.timedelta(seconds=60)


def scopes_for(*, payroll: bool) -> list[str]:
    """The scopes a Site asks for: identity, XERO_SCOPES, and payroll ones for payroll Sites."""
    scopes = [*IDENTITY_SCOPES, *settings.XERO_SCOPES]
    if payroll:
        scopes += settings.XERO_PAYROLL_SCOPES
    return list(dict.fromkeys(scopes))


def app_credentials() -> tuple[str, str]:
    """The Warehouse's Xero app's client ID and secret, or ``WebAppNotConfigured``."""
    client_id, secret = settings.XERO_APP_CLIENT_ID, settings.XERO_APP_CLIENT_SECRET
    if not client_id or not secret:
        raise exceptions.WebAppNotConfigured()
    return client_id, secret


def new_pkce_pair() -> tuple[str, str]:
    """(code verifier, its S256 challenge), from oauthlib."""
    oauth = WebApplicationClient("")  # the PKCE pair needs no client id
    verifier = oauth.create_code_verifier(CODE_VERIFIER_LENGTH)
    return verifier, oauth.create_code_challenge(verifier, "S256")


def authorize_url(*, redirect_uri: str, state: str, code_challenge: str, scopes, nonce: str) -> str:
    """Where the browser goes to consent. Built by hand: oauthlib's ``prepare_request_uri``
    refuses http:// addresses, which the local sandbox uses. ``nonce`` comes back in the
    id_token (OpenID Connect Core 3.1.2.1), binding it to this request."""
    client_id, _ = app_credentials()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{settings.XERO_AUTHORIZE_URL}?{urlencode(query)}"


def authorize_origin() -> str:
    """The origin of ``XERO_AUTHORIZE_URL`` (``https://login.xero.com``), which the setup
    page's Content-Security-Policy lets its Connect to Xero form lead to."""
    url = urlsplit(settings.XERO_AUTHORIZE_URL)
    return f"{url.scheme}://{url.netloc}"


@dataclass(frozen=True)
class Tokens:
    """A token answer of Xero's identity server, checked."""

    access_token: str
    refresh_token: str
    expires_at: datetime.datetime
    scopes: str
    claims: dict  # of the access token (read, not checked: only Xero reads it)
    identity: dict  # of the id_token, checked (``id_token_claims``); {} after a refresh

    @property
    def auth_event_id(self) -> str:
        return str(self.claims.get("authentication_event_id") or "")

    @property
    def xero_user_id(self) -> str:
        """The Xero user, from the checked id_token only."""
        return str(self.identity.get("xero_userid") or self.identity.get("sub") or "")[:64]


def exchange_code(
    *, session, code: str, redirect_uri: str, code_verifier: str, nonce: str, now
) -> Tokens:
    """Trade the consent's code (and the PKCE verifier) for a token set, whose id_token
    must pass OpenID Connect's checks for this request's ``nonce`` (``IdTokenInvalid``)."""
    return _token_request(
        session,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
        now=now,
        invalid_grant=exceptions.ConnectCodeInvalid,
        nonce=nonce,
    )


def _token_request(session, grant: dict, *, now, invalid_grant, nonce: str | None = None) -> Tokens:
    """A token from Xero's identity server for the Warehouse's app (``client.oauth2_token``),
    with what only this type knows: ``invalid_grant`` means the code or the refresh token
    is spent, and a refused client is the Warehouse's own settings, not the Site's."""
    client_id, secret = app_credentials()
    try:
        token = client.oauth2_token(session, client_id=client_id, client_secret=secret, grant=grant)
    except exceptions.InvalidClient as error:
        raise exceptions.AppCredentialsRejected(
            http_status=error.http_status, problem=error.problem
        ) from None
    except exceptions.XeroProblem as error:
        if error.problem == "invalid_grant":
            raise invalid_grant(http_status=error.http_status, problem=error.problem) from None
        raise
    access_token, refresh_token = token.get("access_token"), token.get("refresh_token")
    if not isinstance(access_token, str) or not isinstance(refresh_token, str) or not refresh_token:
        raise exceptions.UnexpectedResponse(
            received="a token answer without an access and a refresh token"
        )
    scope = token.get("scope", "")
    return Tokens(
        access_token=access_token,
        refresh_token=refresh_token,
        # client.oauth2_token refused a lifetime that is not 1 second to a day.
        expires_at=now + datetime.timedelta(seconds=token["expires_in"]),
        scopes=" ".join(scope) if isinstance(scope, list | tuple) else str(scope),
        claims=jwt_claims(access_token),
        identity=(
            {}
            if nonce is None
            else id_token_claims(
                session=session, id_token=token.get("id_token"), client_id=client_id, nonce=nonce
            )
        ),
    )


def jwt_claims(token: str) -> dict:
    """The claims of an access token, read without any check: an access token is meant for
    Xero's API, which checks it; only its ``authentication_event_id`` is used here, to ask
    ``/connections`` for this consent's organisations. A malformed token gives ``{}``."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}


# The id_token (OpenID Connect Core 3.1.3.7) -----------------------------------------------
#
# Checked with PyJWT (present through oauthlib[signedtoken]) against the keys Xero
# publishes (XERO_JWKS_URL), fetched through a XeroSession like every other call, so the
# fetch has the same deadline, size cap, proxy and redirect refusal; PyJWT's own
# PyJWKClient fetches with urllib, outside all of those. The keys are cached per process
# for JWKS_CACHE_SECONDS, and fetched again at once for a key id not in the cache (Xero
# rotating its keys), at most every JWKS_REFETCH_SECONDS.

JWKS_CACHE_SECONDS = 3600
JWKS_REFETCH_SECONDS = 60
# Xero signs id_tokens RS256; any other algorithm (above all "none" or HS256 with the
# public key as secret) is refused.
ID_TOKEN_ALGORITHMS = ["RS256"]
# Seconds of clock difference tolerated on exp/nbf/iat.
ID_TOKEN_LEEWAY = 60

_jwks_cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}
_jwks_lock = threading.Lock()


def id_token_claims(*, session, id_token, client_id: str, nonce: str) -> dict:
    """The claims of ``id_token`` once every check of OpenID Connect Core 3.1.3.7 passed:
    signed RS256 by a key of Xero's JWKS, ``iss`` Xero's identity server, ``aud`` this
    app's client ID (and ``azp`` too, if there), not expired, and ``nonce`` the one this
    authorization request sent. Any failure is ``IdTokenInvalid`` saying which."""
    if not isinstance(id_token, str) or not id_token:
        raise exceptions.IdTokenInvalid(reason="was missing from Xero's answer")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise exceptions.IdTokenInvalid(reason="is not a well-formed JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ID_TOKEN_ALGORITHMS:
        shown = values.text(str(algorithm), 20)
        raise exceptions.IdTokenInvalid(reason=f"is signed with “{shown}”, not RS256")
    key = _signing_key(session, str(header.get("kid") or ""))
    try:
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=ID_TOKEN_ALGORITHMS,
            audience=client_id,
            issuer=settings.XERO_ISSUER,
            leeway=ID_TOKEN_LEEWAY,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise exceptions.IdTokenInvalid(reason=_id_token_fault(error)) from None
    if claims.get("azp", client_id) != client_id:
        raise exceptions.IdTokenInvalid(reason="was issued to another client (azp)")
    sent = claims.get("nonce")
    if (
        not nonce
        or not isinstance(sent, str)
        or not secrets.compare_digest(sent.encode(), nonce.encode())
    ):
        raise exceptions.IdTokenInvalid(
            reason="does not carry the nonce this connection sent (it may be replayed)"
        )
    return claims


def _id_token_fault(error: Exception) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "has expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "is not valid yet"
    if isinstance(error, jwt.InvalidAudienceError):
        return "was issued to another client (aud)"
    if isinstance(error, jwt.InvalidIssuerError):
        return "was not issued by Xero's identity server (iss)"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"lacks its “{error.claim}” claim"
    if isinstance(error, jwt.InvalidSignatureError):
        return "has a signature that none of Xero's published keys verifies"
    return "is malformed"


def _signing_key(session, kid: str) -> jwt.PyJWK:
    url = settings.XERO_JWKS_URL
    with _jwks_lock:
        cached = _jwks_cache.get(url)
    age = time.monotonic() - cached[0] if cached is not None else float("inf")
    if cached is not None and age < JWKS_CACHE_SECONDS:
        key = _key_of(cached[1], kid)
        if key is not None or age < JWKS_REFETCH_SECONDS:
            if key is None:
                raise exceptions.IdTokenInvalid(reason="names a key Xero does not publish")
            return key
    keys = _jwks_fetch(session, url)
    with _jwks_lock:
        _jwks_cache[url] = (time.monotonic(), keys)
    key = _key_of(keys, kid)
    if key is None:
        raise exceptions.IdTokenInvalid(reason="names a key Xero does not publish")
    return key


def _key_of(keys: jwt.PyJWKSet, kid: str) -> jwt.PyJWK | None:
    for key in keys.keys:
        if key.key_id == kid or (not kid and len(keys.keys) == 1):
            return key
    return None


def _jwks_fetch(session, url: str) -> jwt.PyJWKSet:
    """Xero's published keys, through the session (its deadline and size cap), without
    the session's own headers that are not the RFCs' (a Site's tenant)."""
    body = session.get_json(url, headers=client.identity_headers(session))
    try:
        return jwt.PyJWKSet.from_dict(body)
    except (jwt.PyJWTError, TypeError, ValueError, AttributeError, KeyError):
        raise exceptions.IdTokenInvalid(
            reason="could not be checked: Xero's published keys (XERO_JWKS_URL) are unreadable"
        ) from None


def jwks_cache_clear() -> None:
    """Forget the cached keys (tests; a key rotation is followed by itself)."""
    with _jwks_lock:
        _jwks_cache.clear()


@dataclass(frozen=True)
class XeroConnection:
    """A row of Xero's ``/connections``: one organisation the Xero user connected."""

    id: str
    tenant_id: str
    tenant_name: str
    auth_event_id: str


def read_connections(*, session, access_token: str | None = None, auth_event_id: str = "") -> list:
    """The organisations the token set reaches (only those this consent added, given
    ``auth_event_id``); rows that are not organisations or not well formed are skipped.

    Without ``access_token``, the session's own (renewable) token is used."""
    params = {"authEventId": auth_event_id} if auth_event_id else None
    auth = {"auth": client.BearerAuth(access_token)} if access_token else {}
    rows = session.get_json(settings.XERO_CONNECTIONS_URL, params=params, **auth)
    if not isinstance(rows, list):
        raise exceptions.UnexpectedResponse(received="something other than a list of connections")
    connections = []
    for row in rows:
        if not isinstance(row, dict) or row.get("tenantType", "ORGANISATION") != "ORGANISATION":
            continue
        connection = XeroConnection(
            id=str(row.get("id") or "")[:64],
            tenant_id=str(row.get("tenantId") or "")[:64],
            tenant_name=values.text(row.get("tenantName"), 255),
            auth_event_id=str(row.get("authEventId") or ""),
        )
        wanted = not auth_event_id or connection.auth_event_id == auth_event_id
        if connection.id and connection.tenant_id and wanted:
            connections.append(connection)
    return connections


def delete_connection(*, session, access_token: str, connection_id: str) -> None:
    """``DELETE /connections/{id}``; a connection already gone counts as deleted."""
    url = settings.XERO_CONNECTIONS_URL.rstrip("/") + "/" + connection_id
    response = session.delete(url, auth=client.BearerAuth(access_token), check=False)
    if response.status_code >= 300 and response.status_code != 404:
        raise client.error_from_response(response)


def revoke(*, session, refresh_token: str) -> None:
    """Revoke a token set at Xero: it ends the grant and the Xero user's connections."""
    response = session.post(
        settings.XERO_REVOCATION_URL,
        data={"token": refresh_token},
        auth=client.client_auth(*app_credentials()),
        headers=client.identity_headers(session),
        check=False,
    )
    if response.status_code >= 300:
        raise client.error_from_response(response)


def access_token(*, token_set: TokenSet, session, now=None, rejected: str | None = None) -> str:
    """A live access token of ``token_set``: the stored one while it lasts, else a new one.

    ``rejected`` is an access token Xero just called expired: it is refreshed even if our
    clock thinks it still lasts. Raises ``ReconnectNeeded`` once Xero refuses the refresh
    token (``invalid_grant``), and at every call after that until the Site is connected
    again.
    """
    now = now or timezone.now()
    if token_set.refresh_failure == exceptions.ReconnectNeeded.code:
        raise exceptions.ReconnectNeeded()
    if rejected is None and token_set.access_token_usable(now, ACCESS_TOKEN_MARGIN):
        return token_set.access_token
    return token_set_refresh(token_set=token_set, session=session, now=now, rejected=rejected)


def token_set_refresh(*, token_set: TokenSet, session, now=None, rejected=None) -> str:
    """Refresh ``token_set`` under its refresh guard; return the access token to use.

    Whoever takes the guard second finds the pair the first one stored and uses it: of any
    number of workers, one refreshes. ``token_set`` is updated in place.

    Threads of one process (a fleet batch tests many Sites of one token set at once) first
    queue on a lock of the process; the first goes on to the guard across processes
    (``refresh_guard``), which holds no database write lock while Xero is called.
    """
    now = now or timezone.now()
    with _process_lock(token_set.pk):
        stored = TokenSet.objects.get(pk=token_set.pk)
        if _still_good(stored, now=now, rejected=rejected):
            _copy_tokens(stored, token_set)
            return stored.access_token
        with refresh_guard(token_set.pk, deadline=session.deadline):
            return _refresh_guarded(
                token_set=token_set, session=session, now=now, rejected=rejected
            )


def _still_good(stored: TokenSet, *, now, rejected) -> bool:
    return (
        stored.refresh_failure != exceptions.ReconnectNeeded.code
        and stored.access_token != rejected
        and stored.access_token_usable(now, ACCESS_TOKEN_MARGIN)
    )


_process_locks: dict[int, threading.Lock] = collections.defaultdict(threading.Lock)
_process_locks_guard = threading.Lock()


def _process_lock(pk: int) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks[pk]


# The refresh guard across processes --------------------------------------------------------
#
# One refresh per token set, whichever process asks, without a database write lock held
# across the call to Xero (on SQLite that lock is the whole database's: every other write
# of the app would wait for Xero).
#
# - PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on the token set's
#   key. It writes nothing, is let go when the work is done, and by PostgreSQL itself when
#   the holding connection ends (a crashed worker never leaves it held).
# - SQLite (and any other database): a lease on the token set's row, claimed by one short
#   UPDATE of its own (``refresh_lease_holder``/``refresh_lease_until``, only where no
#   lease runs) and released by another. A crashed worker's lease lapses at its end, which
#   is longer than any call can last (the session's whole budget and a margin). A file
#   lock would be let go on a crash too, but only guards processes of one machine and one
#   file system; the row guards whatever shares the database and is visible in it.
#
# A waiter polls until the session's deadline, then gives up with ``WarehouseBusy``.

GUARD_POLL = 0.05
# PostgreSQL's advisory lock keys are the pair (namespace, token set): the namespace keeps
# them apart from any other advisory lock of the database.
ADVISORY_NAMESPACE = 0x5852_4546  # "XREF"
LEASE_MARGIN = datetime.timedelta(seconds=60)


@contextlib.contextmanager
def refresh_guard(pk: int, *, deadline: float):
    """Hold the cross-process guard of token set ``pk`` (see above), waiting for it until
    ``deadline`` (``time.monotonic()``); ``WarehouseBusy`` if it is not free by then."""
    guard = _advisory_guard if connection.vendor == "postgresql" else _lease_guard
    with guard(pk, deadline=deadline):
        yield


@contextlib.contextmanager
def _advisory_guard(pk: int, *, deadline: float):
    key = (ADVISORY_NAMESPACE, pk % 2**31)
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
            if cursor.fetchone()[0]:
                break
            _wait_or_give_up(deadline)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


@contextlib.contextmanager
def _lease_guard(pk: int, *, deadline: float):
    holder = secrets.token_hex(16)
    while True:
        now = timezone.now()
        budget = datetime.timedelta(seconds=max(deadline - time.monotonic(), 0))
        claimed = (
            TokenSet.objects.filter(pk=pk)
            .filter(Q(refresh_lease_until__isnull=True) | Q(refresh_lease_until__lt=now))
            .update(refresh_lease_holder=holder, refresh_lease_until=now + budget + LEASE_MARGIN)
        )
        if claimed or not TokenSet.objects.filter(pk=pk).exists():
            break
        _wait_or_give_up(deadline)
    try:
        yield
    finally:
        TokenSet.objects.filter(pk=pk, refresh_lease_holder=holder).update(
            refresh_lease_holder="", refresh_lease_until=None
        )


def _wait_or_give_up(deadline: float) -> None:
    if time.monotonic() + GUARD_POLL >= deadline:
        # Another worker's refresh of this token set outlasted this call's budget.
        budget = settings.XERO_CONNECT_TIMEOUT + settings.XERO_READ_TIMEOUT
        raise exceptions.WarehouseBusy(seconds=f"{budget:g}")
    time.sleep(GUARD_POLL)


def _refresh_guarded(*, token_set: TokenSet, session, now, rejected) -> str:
    """The refresh itself, under the guard: re-read (another process may have refreshed
    meanwhile), call Xero with no transaction open, store the new pair in one short write
    before anything uses it."""
    stored = TokenSet.objects.get(pk=token_set.pk)
    if stored.refresh_failure == exceptions.ReconnectNeeded.code:
        failure: exceptions.ConnectionTestFailed | None = exceptions.ReconnectNeeded()
    elif _still_good(stored, now=now, rejected=rejected):
        _copy_tokens(stored, token_set)
        return stored.access_token
    else:
        failure = None
        try:
            tokens = _token_request(
                session,
                {"grant_type": "refresh_token", "refresh_token": stored.refresh_token},
                now=now,
                invalid_grant=exceptions.ReconnectNeeded,
            )
        except exceptions.ConnectionTestFailed as error:
            failure = error
        else:
            stored.access_token = tokens.access_token
            stored.refresh_token = tokens.refresh_token
            stored.access_token_expires_at = tokens.expires_at
            stored.refresh_token_issued_at = now
            stored.last_refreshed_at = now
            stored.scopes = tokens.scopes or stored.scopes
            stored.refresh_failure = ""
            stored.refresh_failed_at = None
            stored.save(update_fields=[*TOKEN_FIELDS])
    if failure is None:
        _copy_tokens(stored, token_set)
        logger.info("Refreshed Xero token set %s", token_set.pk)
        return token_set.access_token
    TokenSet.objects.filter(pk=token_set.pk).update(
        refresh_failure=failure.code, refresh_failed_at=now
    )
    token_set.refresh_failure, token_set.refresh_failed_at = failure.code, now
    logger.warning("Refreshing Xero token set %s failed: %s", token_set.pk, failure.code)
    raise failure


TOKEN_FIELDS = (
    "access_token",
    "refresh_token",
    "access_token_expires_at",
    "refresh_token_issued_at",
    "last_refreshed_at",
    "scopes",
    "refresh_failure",
    "refresh_failed_at",
)


def _copy_tokens(source: TokenSet, target: TokenSet) -> None:
    for field in TOKEN_FIELDS:
        setattr(target, field, getattr(source, field))
