"""The one place that talks HTTP to Xero, for every connection type.

``XeroSession`` is a requests session with Xero's timeouts, one deadline per session and
Xero's call limits; it is built complete, authenticated by the connection type that
opens it (``xero/connection/``). The protocol pieces the types share live here: OAuth
1.0a RSA-SHA1 signing (``oauth1_auth``), OAuth 2.0 token requests to Xero's identity
server (``oauth2_token``) and Bearer auth, and the reading of Xero's answers: every answer
that is not a success becomes one of the exceptions in ``xero.exceptions``, and the call
limits Xero reports are read by ``calls_left``.
"""

import itertools
import json
import logging
import time
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from oauthlib.oauth1 import SIGNATURE_RSA, SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests_oauthlib import OAuth1

from sites.models import Site

from . import certificates, exceptions, limits
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
        self.last_response = None
        self._authenticate = authenticate
        if authenticate is not None:
            self.auth = authenticate(self, renew=False)

    def request(self, method, url, *, check=True, **kwargs):
        """Send a request; with ``check``, an answer that is not a success raises its outcome.

        A Custom Connection's token that Xero calls expired is renewed once and the request
        sent again.
        """
        try:
            return self._send(method, url, check=check, **kwargs)
        except exceptions.TokenExpired:
            renewed = self._authenticate(self, renew=True) if self._authenticate else None
            if renewed is None:
                raise
            self.auth = renewed
            return self._send(method, url, check=check, **kwargs)

    def _send(self, method, url, *, check, **kwargs):
        # Xero's limits (xero/limits.py): a slot of each is held while the request is out.
        # A fleet check waits out a rate limit and sends again; a click reports it at once.
        for attempt in itertools.count():
            with limits.call_slot(
                site_id=getattr(self.site, "pk", None), deadline=self.deadline
            ) as waited:
                if limits.is_waiting():
                    self.deadline += waited
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
            raise exceptions.XeroTimeout(seconds=_seconds(self.budget))
        kwargs["timeout"] = (
            min(self.connect_timeout, remaining),
            min(self.read_timeout, remaining),
        )
        kwargs["stream"] = True
        try:
            response = super().request(method, url, **kwargs)
            _read_body_before(response, self.deadline)
        except (requests.Timeout, _DeadlinePassed):
            raise exceptions.XeroTimeout(seconds=_seconds(self.budget)) from None
        except requests.exceptions.SSLError:
            raise exceptions.TLSFailure(host=host) from None
        except requests.ConnectionError as error:
            raise exceptions.XeroUnreachable(host=host, reason=_network_reason(error)) from None
        self.last_response = response
        # A rate limit is raised even unchecked, so that a bulk check can wait it out.
        if response.status_code >= 300 and (check or response.status_code == 429):
            raise error_from_response(response)
        return response

    def get_json(self, url, **kwargs):
        """GET ``url`` and return its JSON, or raise the outcome that says why not."""
        response = self.get(url, **kwargs)
        return json_from_response(response)


class _DeadlinePassed(Exception):
    pass


def _read_body_before(response, deadline):
    """Read the body in chunks, giving up at the deadline even if Xero trickles bytes."""
    chunks = []
    for chunk in response.iter_content(chunk_size=16384):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            response.close()
            raise _DeadlinePassed
    response._content = b"".join(chunks)
    response._content_consumed = True


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
            problem=_snippet(response.text),
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


def _snippet(text: str) -> str:
    return " ".join(text.split())[: exceptions.PROBLEM_LENGTH]


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
        header_int(response, "X-MinLimit-Remaining"), header_int(response, "X-DayLimit-Remaining")
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


def header_int(response, name: str) -> int | None:
    """A whole-number header of Xero's answer (``Retry-After``, ``X-MinLimit-Remaining``…)."""
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None


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
            limit=response.headers.get("X-Rate-Limit-Problem", "minute"),
            retry_after=header_int(response, "Retry-After"),
            problem=_snippet(text),
            **context,
        )
    if problem:
        advice = oauth.get("oauth_problem_advice")
        context["problem"] = _snippet(f"{problem}: {advice}" if advice else problem)
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
    context["problem"] = _snippet(detail or text)
    authenticate = response.headers.get("WWW-Authenticate", "")
    if status == 401:
        if "insufficient_scope" in authenticate:
            return exceptions.InsufficientScope(**context)
        if detail.startswith("TokenExpired"):
            return exceptions.TokenExpired(**context)
        return exceptions.TokenRejected(**context)
    if status == 403:
        return exceptions.Forbidden(**context)
    if status >= 500:
        return exceptions.XeroUnavailable(status=status, **context)
    context["problem"] = context["problem"] or "no explanation given"
    return exceptions.XeroProblem(status=status, **context)


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


def oauth2_token(session: XeroSession, *, client_id: str, client_secret: str, grant: dict) -> dict:
    """Ask Xero's identity server for a token (``grant``: the grant type and its fields).

    Returns oauthlib's checked RFC 6749 token response, ``expires_in`` a whole number of
    seconds (Xero's 30 minutes if it left it out); refusals raise their outcome.
    """
    response = session.post(
        settings.XERO_IDENTITY_URL, data=grant, auth=(client_id, client_secret), check=False
    )
    body = _json_or_none(response.text)
    if response.status_code in (400, 401) and isinstance(body, dict) and "error" in body:
        outcome = TOKEN_ERRORS.get(body["error"], exceptions.XeroProblem)
        raise outcome(
            status=response.status_code,
            problem=_snippet(body["error"]),
            http_status=response.status_code,
        )
    if response.status_code >= 300:
        raise error_from_response(response)
    try:
        # oauthlib checks the answer is a well-formed RFC 6749 token response.
        token = BackendApplicationClient(client_id=client_id).parse_request_body_response(
            response.text
        )
        token["expires_in"] = int(token.get("expires_in", 1800))
    except (OAuth2Error, ValueError):
        raise exceptions.UnexpectedResponse(
            received=_describe_body(response),
            http_status=response.status_code,
            problem=_snippet(response.text) if body is None else "",
        ) from None
    return token


# The identity server's OAuth 2.0 errors (RFC 6749 section 5.2).
TOKEN_ERRORS = {
    "invalid_client": exceptions.InvalidClient,
    "unauthorized_client": exceptions.InvalidClient,
    "invalid_scope": exceptions.InsufficientScope,
}
