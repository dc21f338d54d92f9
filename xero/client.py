"""The one place that talks HTTP to Xero, for every connection type.

``XeroSession`` is a requests session with Xero's timeouts, one deadline per session and
Xero's call limits; it is built complete, authenticated by the connection type that
opens it (``xero/connection/``). The protocol pieces the types share live here: OAuth
1.0a RSA-SHA1 signing (``oauth1_auth``), OAuth 2.0 token requests to Xero's identity
server (``oauth2_token``) and Bearer auth, and the reading of Xero's answers: every answer
that is not a success becomes one of the exceptions in ``xero.exceptions``, and the call
limits Xero reports are read by ``calls_left``. How a request reaches the network and how
its answer is read, within the session's deadline, is ``xero/transport.py``'s.
"""

import contextvars
import itertools
import json
import logging
import re
import time
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote_plus, urlsplit

import requests
from django.conf import settings
from oauthlib.oauth1 import SIGNATURE_RSA, SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests_oauthlib import OAuth1

from sites.models import Site
from warehouse import signals

from . import certificates, exceptions, limits, transport, values
from .certificates import APPLICATION_NAME
from .models import Certificate

logger = logging.getLogger(__name__)


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>``.

    requests-oauthlib's OAuth2 auth refuses plain-http addresses, which the local sandbox
    uses; sending a Bearer header needs nothing more than this.
    """

    def __init__(self, access_token: str):
        self.access_token = access_token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.access_token}"
        return request


def client_auth(client_id: str, client_secret: str) -> requests.auth.HTTPBasicAuth:
    """HTTP Basic client authentication as RFC 6749 §2.3.1 defines it: the client id and
    secret are each ``application/x-www-form-urlencoded`` first, then joined by ``:`` and
    base64-encoded. A conforming server decodes them, so a secret with ``+``, ``%`` or
    ``:`` in it must be encoded to arrive intact (Xero's generated secrets happen to
    encode to themselves)."""
    return requests.auth.HTTPBasicAuth(
        quote_plus(client_id, safe=""), quote_plus(client_secret, safe="")
    )


class XeroSession(requests.Session):
    """A requests session with Xero's timeouts, one deadline, and Xero's errors mapped."""

    def __init__(self, *, site: Site | None = None, authenticate=None):
        """``authenticate(session, renew=False)`` (a connection type's) returns the auth
        every request carries, and is called once more with ``renew=True`` when Xero says
        a token expired (returning ``None`` if it cannot renew). It may call Xero through
        the session being built, e.g. for a token; its failures stop the construction.
        """
        super().__init__()
        self.connect_timeout = settings.XERO_CONNECT_TIMEOUT
        self.read_timeout = settings.XERO_READ_TIMEOUT
        self.budget = self.connect_timeout + self.read_timeout
        self.deadline = time.monotonic() + self.budget
        self.headers["Accept"] = "application/json"
        self.headers["User-Agent"] = f"{APPLICATION_NAME} Warehouse"
        # requests reads the proxy variables (and .netrc) from the environment on every
        # request, a measurable share of a fleet check's CPU: only XERO_HTTP_PROXY counts.
        self.trust_env = False
        if settings.XERO_HTTP_PROXY:
            self.proxies = {"http": settings.XERO_HTTP_PROXY, "https": settings.XERO_HTTP_PROXY}
        self.site = site
        self.last_response: requests.Response | None = None
        self._authenticate = authenticate
        if authenticate is not None:
            self.auth = authenticate(self, renew=False)

    # Not requests' signature, on purpose (mypy: override): adds the keyword ``check``;
    # every other argument passes through.
    def request(self, method, url, *, check=True, **kwargs):  # type: ignore[override]
        """Send a request; with ``check``, an answer that is not a success raises its outcome.

        A token Xero rejects as RFC 6750 says (``401``, ``WWW-Authenticate: Bearer
        error="invalid_token"``: expired, revoked or unknown) is renewed once by a type that
        can (Custom Connection, Connect to Xero) and the request sent again.
        """
        try:
            return self._send(method, url, check=check, **kwargs)
        except (exceptions.TokenExpired, exceptions.TokenRejected) as rejected:
            if not rejected.renewable:
                raise
            renewed = self._authenticate(self, renew=True) if self._authenticate else None
            if renewed is None:
                raise
            self.auth = renewed
            return self._send(method, url, check=check, **kwargs)

    def _send(self, method, url, *, check, **kwargs):
        self._join_test_deadline()
        # Xero's limits (xero/limits.py): a slot of each is held while the request is out.
        # A fleet check waits out a rate limit and sends again; a click reports it at once.
        for attempt in itertools.count():
            if time.monotonic() >= self.deadline:
                raise self._timeout()
            with limits.call_slot(
                site_id=getattr(self.site, "pk", None), deadline=self.deadline
            ) as waited:
                if limits.is_waiting():
                    self.deadline += waited
                elif time.monotonic() >= self.deadline:
                    # The budget went on taking the call's slots: on the Warehouse's own
                    # database, not on Xero.
                    raise exceptions.WarehouseBusy(seconds=_seconds(self.budget))
                try:
                    return self._send_now(method, url, check=check, **kwargs)
                except exceptions.RateLimited as limited:
                    pause = limits.pause_after(limited, attempt)
                    if pause is None:
                        raise
            time.sleep(pause)
            self.deadline += pause

    def _send_now(self, method, url, *, check, **kwargs):
        remaining = self.deadline - time.monotonic()
        host = urlsplit(url).hostname or url
        if remaining <= 0:
            raise self._timeout()
        kwargs["timeout"] = (
            min(self.connect_timeout, remaining),
            min(self.read_timeout, remaining),
        )
        kwargs["stream"] = True
        # A redirect is reported, never followed: it could lead anywhere, and an answer from
        # a server that never saw the credentials proves nothing about them.
        kwargs["allow_redirects"] = False
        # Only encodings that transport.read_body decompresses in bounded steps.
        kwargs["headers"] = {"Accept-Encoding": "gzip, deflate", **(kwargs.get("headers") or {})}
        # Mounted here rather than at construction so that every way of building a session
        # sends through sockets the deadline can close.
        transport.mount(self)
        watchdog = transport.Watchdog(self.deadline)
        sent = time.monotonic()
        try:
            with watchdog:
                response = super().request(method, url, **kwargs)
                transport.refuse_redirect(response)
                transport.read_body(response, deadline=self.deadline, limit=_answer_limit())
        except exceptions.XeroError:
            raise
        except transport.TRANSPORT_ERRORS as error:
            if watchdog.fired or transport.is_timeout(error) or time.monotonic() >= self.deadline:
                timeout = self._timeout()
                # Sent, then given up on: Xero may still be answering it (xero/limits.py).
                timeout.abandoned = True
                raise timeout from None
            if isinstance(error, requests.exceptions.SSLError):
                raise exceptions.TLSFailure(host=host) from None
            raise exceptions.XeroUnreachable(host=host, reason=_network_reason(error)) from None
        self.last_response = response
        # For /metrics: the latency histogram and the 429s, shared by every process.
        signals.xero_call_answered.send(
            sender=XeroSession, seconds=time.monotonic() - sent, status=response.status_code
        )
        # A rate limit is raised even unchecked, so that a bulk check can wait it out.
        if response.status_code >= 300 and (check or response.status_code == 429):
            raise error_from_response(response)
        return response

    # Not requests' signature, on purpose (mypy: override): it refuses every redirect, so
    # it takes requests' arguments without naming each.
    def resolve_redirects(self, response, request, **kwargs):  # type: ignore[override]
        """Never: requests reads a redirect's whole body here even when it does not follow
        it, at any size; a redirect is refused unread instead (``_refuse_redirect``)."""
        return iter(())

    def _join_test_deadline(self) -> None:
        # Once per session: the test's deadline (``calls_end_by``) also bounds this
        # session, so that what the test spent before (waiting for the database) counts.
        # Later extensions for rate-limit waits are the session's own.
        if getattr(self, "_joined_test_deadline", False):
            return
        self._joined_test_deadline = True
        outer = _test_deadline.get()
        if outer is not None:
            self.deadline = min(self.deadline, outer)

    def _timeout(self) -> exceptions.ConnectionTestFailed:
        """The timeout outcome, saying how long the session really waited: one number, the
        true one (a call cut at its read timeout waited less than the session's budget).

        The deadline's watchdog ends a call at the deadline, so a time-out noticed long
        after it means this process did not run meanwhile (paused, swapping): the
        Warehouse stalled, and that is not blamed on Xero.
        """
        now = time.monotonic()
        late = now - self.deadline
        if late > STALL_SECONDS:
            return exceptions.WarehouseStalled(seconds=f"{late:.0f}")
        waited = now - (self.deadline - self.budget)
        shown = round(waited) if waited >= 10 else round(waited, 1)
        return exceptions.XeroTimeout(seconds=_seconds(shown))

    def get_json(self, url, **kwargs):
        """GET ``url`` and return its JSON, or raise the outcome that says why not."""
        response = self.get(url, **kwargs)
        return json_from_response(response)


# How late past its deadline a time-out may be noticed before it is the Warehouse's own
# stall: the watchdog fires at the deadline, and a loaded machine delays it by far less.
STALL_SECONDS = 5.0

_test_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "xero_test_deadline", default=None
)


@contextmanager
def calls_end_by(at: float):
    """Within this block every session's calls end by ``at`` (``time.monotonic()``).

    A connection test's budget starts before its first call: waiting for the database
    comes out of it too.
    """
    token = _test_deadline.set(at)
    try:
        yield
    finally:
        _test_deadline.reset(token)


def _answer_limit() -> int:
    return settings.XERO_MAX_ANSWER_BYTES


def _seconds(value: float) -> str:
    return f"{value:g}"


def _network_reason(error: Exception) -> str:
    text = str(error)
    if "NameResolution" in text or "Name or service not known" in text or "resolve" in text:
        return "its name does not resolve (DNS)"
    if "Connection refused" in text:
        return "the connection was refused"
    if "RemoteDisconnected" in text or "aborted" in text or "reset" in text.lower():
        return "the connection was closed without an answer"
    return "the network connection failed"


def json_from_response(response):
    content_type = response.headers.get("Content-Type", "")
    try:
        if "json" not in content_type:
            raise ValueError(content_type)
        return response.json()
    except ValueError:
        raise exceptions.UnexpectedResponse(
            received=_describe_body(response),
            http_status=response.status_code,
            problem=_problem(response.text),
        ) from None


def _describe_body(response) -> str:
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    text = response.text.lstrip()[:100].lower()
    if "html" in content_type or text.startswith(("<!doctype html", "<html")):
        return "a web page (HTML)"
    if "xml" in content_type or text.startswith("<"):
        return "XML"
    if not text:
        return "an empty answer"
    return f"“{content_type or 'unknown'}” content"


def _problem(text: str) -> str:
    # Xero's own words go on pages, into logs and into a column: values.text decides, for
    # all three, which characters may show.
    return values.text(text, exceptions.PROBLEM_LENGTH)


def join(base: str, path: str) -> str:
    """``path`` under one of Xero's base addresses (the settings end them with or without /)."""
    return base.rstrip("/") + "/" + path


def checked(response):
    """``response`` if it is a success, else its failure raised."""
    if response.status_code >= 300:
        raise error_from_response(response)
    return response


class CallsLeft(NamedTuple):
    minute: int | None
    day: int | None


def calls_left(response) -> CallsLeft:
    """What Xero's answer says is left of its per-minute and daily call limits."""
    if response is None:
        return CallsLeft(None, None)
    return CallsLeft(
        transport.header_int(response, "X-MinLimit-Remaining"),
        transport.header_int(response, "X-DayLimit-Remaining"),
    )


def oauth1_auth(*, consumer_key: str, certificate: Certificate) -> OAuth1:
    """Sign as a private application: RSA-SHA1 with ``certificate``'s private key, and the
    Consumer Key as the access token too, as Xero's private applications require."""
    return OAuth1(
        client_key=consumer_key,
        resource_owner_key=consumer_key,
        signature_method=SIGNATURE_RSA,
        rsa_key=certificates.load_private_key(certificate.private_key_pem),
        signature_type=SIGNATURE_TYPE_AUTH_HEADER,
    )


OAUTH1_PROBLEMS = {
    "consumer_key_unknown": exceptions.ConsumerKeyUnknown,
    "consumer_key_rejected": exceptions.ConsumerKeyUnknown,
    "signature_method_rejected": exceptions.SignatureMethodRejected,
    "no_certificate": exceptions.SignatureMethodRejected,
    "token_rejected": exceptions.TokenRejected,
    "token_expired": exceptions.TokenExpired,
    "nonce_used": exceptions.NonceUsed,
}


def _oauth1_problem(text: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(text.strip()).items()}


def is_signature_invalid(response) -> bool:
    """Whether Xero refused a private application's signature (wrong certificate)."""
    return _oauth1_problem(response.text or "").get("oauth_problem") == "signature_invalid"


def error_from_response(response, *, certificates=()) -> exceptions.ConnectionTestFailed:
    """The named outcome for an answer of Xero's that is not a success.

    ``certificates``: those the request was signed with, named by a ``SignatureInvalid``.
    """
    status = response.status_code
    text = response.text or ""
    context = {"http_status": status}
    oauth = _oauth1_problem(text)
    problem = oauth.get("oauth_problem", "")
    if status == 429 or problem == "rate limit exceeded":
        return exceptions.RateLimited(
            limit=values.text(response.headers.get("X-Rate-Limit-Problem", "minute"), 40),
            # A wait that is no whole number of seconds up to a day is no advice: unknown.
            retry_after=values.seconds(response.headers.get("Retry-After"), at_most=86_400),
            problem=_problem(text),
            **context,
        )
    if problem:
        advice = oauth.get("oauth_problem_advice")
        context["problem"] = _problem(f"{problem}: {advice}" if advice else problem)
        if problem == "signature_invalid":
            return exceptions.SignatureInvalid(certificates=certificates, **context)
        if problem in ("timestamp_refused", "timestamp_in_future"):
            return exceptions.TimestampRefused(
                offset=_clock_offset(oauth.get("oauth_acceptable_timestamps", "")), **context
            )
        if problem in OAUTH1_PROBLEMS:
            return OAUTH1_PROBLEMS[problem](**context)
        return exceptions.XeroProblem(status=status, **context)

    body = _json_or_none(text)
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("Detail") or body.get("Message") or body.get("error") or "")
    context["problem"] = _problem(detail or text)
    bearer_error = _bearer_error(response.headers.get("WWW-Authenticate", ""))
    if status == 401:
        if bearer_error == "insufficient_scope":
            return exceptions.InsufficientScope(**context)
        # RFC 6750 §3.1: "invalid_token" (expired, revoked, malformed) is the protocol's
        # word that a new token may help; Xero's "TokenExpired" wording only names it.
        renewable = bearer_error == "invalid_token"
        if detail.startswith("TokenExpired"):
            return exceptions.TokenExpired(renewable=True, **context)
        return exceptions.TokenRejected(renewable=renewable, **context)
    if status == 403:
        return exceptions.Forbidden(**context)
    if status >= 500:
        return exceptions.XeroUnavailable(status=status, **context)
    context["problem"] = context["problem"] or "no explanation given"
    return exceptions.XeroProblem(status=status, **context)


_AUTH_PARAM = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _bearer_error(challenge: str) -> str:
    """The ``error`` of a ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3), or ""."""
    scheme, _, params = challenge.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    for name, quoted, token in _AUTH_PARAM.findall(params):
        if name.lower() == "error":
            return (quoted or token)[:40]
    return ""


def _json_or_none(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _clock_offset(acceptable: str, now: float | None = None) -> str:
    """How far our clock is from Xero's, from ``oauth_acceptable_timestamps=lo-hi``."""
    try:
        low, high = (int(part) for part in acceptable.split("-"))
    except ValueError:
        return "too far from"
    # The window is in whole seconds and the answer took time to come back: round to 5 s.
    offset = 5 * round(((time.time() if now is None else now) - (low + high) / 2) / 5)
    if offset == 0:
        return "about the same as"
    return f"about {abs(offset)} seconds {'ahead of' if offset > 0 else 'behind'}"


# The session's own headers that a request to the identity server keeps: RFC 6749 asks for
# nothing else (the form's Content-Type and the client's Authorization come with it).
IDENTITY_HEADERS = frozenset({"accept", "user-agent", "accept-encoding", "connection"})


def identity_headers(session: requests.Session) -> dict[str, Any]:
    """Headers for a request to Xero's identity server (token, revocation): the session's
    headers that are not the RFCs' (a web app's ``Xero-Tenant-Id``) set to ``None``, which
    requests leaves out. The identity server serves no organisation."""
    return {name: None for name in session.headers if name.lower() not in IDENTITY_HEADERS}


def oauth2_token(session: XeroSession, *, client_id: str, client_secret: str, grant: dict) -> dict:
    """Ask Xero's identity server for a token (``grant``: the grant type and its fields).

    Returns oauthlib's checked RFC 6749 token response, ``access_token`` text and
    ``expires_in`` a whole number of seconds (Xero's 30 minutes if it left it out);
    refusals raise their outcome, and a token answer that is not well formed
    ``UnexpectedResponse`` naming what is wrong with it.
    """
    response = session.post(
        settings.XERO_IDENTITY_URL,
        data=grant,
        auth=client_auth(client_id, client_secret),
        headers=identity_headers(session),
        check=False,  # type: ignore[call-arg]  # XeroSession.request's own keyword
    )
    body = _json_or_none(response.text)
    if response.status_code in (400, 401) and isinstance(body, dict) and "error" in body:
        error = str(body["error"])
        outcome = TOKEN_ERRORS.get(error, exceptions.XeroProblem)
        raise outcome(
            status=response.status_code,
            problem=_problem(error),
            http_status=response.status_code,
        )
    if response.status_code >= 300:
        raise error_from_response(response)
    if not isinstance(body, dict):
        raise exceptions.UnexpectedResponse(
            received=_describe_body(response) if body is None else "JSON that is no token answer",
            http_status=response.status_code,
            problem=_problem(response.text),
        )
    expires_in = body.get("expires_in", TOKEN_LIFETIME_DEFAULT)
    lifetime = values.seconds(expires_in, at_most=TOKEN_LIFETIME_MAX)
    fault = _token_fault(body, lifetime=lifetime)
    if fault:
        raise exceptions.TokenAnswerMalformed(
            fault=fault,
            http_status=response.status_code,
            problem=_problem(f"expires_in: {_shown(expires_in)}") if lifetime is None else "",
        )
    try:
        # oauthlib checks the answer is a well-formed RFC 6749 token response.
        token = BackendApplicationClient(client_id=client_id).parse_request_body_response(
            response.text
        )
    except (OAuth2Error, ValueError) as error:
        reason = _problem(getattr(error, "error", "") or str(error))[:100]
        raise exceptions.TokenAnswerMalformed(
            fault=f"that OAuth 2.0 refuses ({reason})", http_status=response.status_code
        ) from None
    token["expires_in"] = lifetime
    return token


# Xero's access tokens last 30 minutes, which an answer without ``expires_in`` (RFC 6749
# only recommends it) is taken to mean. A lifetime of more than a day is not Xero's: a
# token trusted that long outlives any revocation, and a huge one overflows a datetime.
TOKEN_LIFETIME_DEFAULT = 1800
TOKEN_LIFETIME_MAX = 86_400


def _token_fault(body: dict, *, lifetime: int | None) -> str:
    """What is wrong with a token answer's fields (a phrase), or "" when nothing is."""
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        return "without an access token"
    if lifetime is None:
        return (
            f"whose lifetime (expires_in) is {_shown(body.get('expires_in'))}, not a whole "
            f"number of seconds from 1 to {TOKEN_LIFETIME_MAX} (a day)"
        )
    scope = body.get("scope", "")
    if not isinstance(scope, str | list) or not all(isinstance(s, str) for s in scope):
        return f"whose scope is {_shown(scope)}, neither text nor a list of scopes"
    return ""


def _shown(value) -> str:
    """A value from an answer as it was sent (JSON), printable and at most 40 characters."""
    text = values.text(json.dumps(value, ensure_ascii=False))
    return text if len(text) <= 40 else text[:39] + "…"


# The identity server's OAuth 2.0 errors (RFC 6749 section 5.2).
TOKEN_ERRORS = {
    "invalid_client": exceptions.InvalidClient,
    "unauthorized_client": exceptions.InvalidClient,
    "invalid_scope": exceptions.InsufficientScope,
}
