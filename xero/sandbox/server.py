"""A fake Xero on 127.0.0.1 that answers over real HTTP, for tests and local development.

One port serves the accounting API (``/api.xro/2.0/``), the AU payroll API
(``/payroll.xro/1.0/``), the identity token endpoint (``/connect/token``), the connections
endpoint (``/connections``) and a JSON control API (``/_sandbox/``).
"""

import base64
import functools
import json
import math
import secrets
import socket
import struct
import threading
import time
import uuid
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from . import bodies, oauth1, webapp
from .bodies import Organisation

TOKEN_LIFETIME = 1800
DEFAULT_SCOPES = (
    "accounting.settings.read",
    "payroll.employees.read",
    "payroll.settings.read",
)
KNOWN_SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "offline_access",
        "accounting.settings",
        "accounting.settings.read",
        "accounting.transactions",
        "accounting.transactions.read",
        "accounting.contacts",
        "accounting.contacts.read",
        "accounting.reports.read",
        "payroll.employees",
        "payroll.employees.read",
        "payroll.payruns",
        "payroll.payruns.read",
        "payroll.payslip",
        "payroll.payslip.read",
        "payroll.timesheets",
        "payroll.timesheets.read",
        "payroll.settings",
        "payroll.settings.read",
    }
)
# Xero's published limits (developer.xero.com/faq/limits).
MINUTE_LIMIT = 60
DAY_LIMIT = 5000
APP_MINUTE_LIMIT = 10_000
CONCURRENT_LIMIT = 5

# Hostile answers (see _Handler._hostile_answer): what a connection test must survive.
HOSTILE_KINDS = (
    "drip",
    "redirect",
    "slow_redirects",
    "huge",
    "gzip_bomb",
    "odd_types",
    "nul",
    "odd_token",
)
FAILURE_KINDS = frozenset(
    {
        "unavailable",
        "server_error",
        "rate_limit_minute",
        "rate_limit_day",
        "rate_limit_oauth1",
        "forbidden",
        "insufficient_scope",
        "html_body",
        "xml_body",
        "slow",
        "token_error",
        "token_rejected",
        "drop",
        *HOSTILE_KINDS,
        *webapp.FAILURE_KINDS,
    }
)
# The kinds of the token endpoint (both grants' answers); the others fail an API call, or
# the web-app endpoint ``webapp.FAILURE_KINDS`` names.
TOKEN_KINDS = ("token_error", "odd_token")
# What the "odd_types" kind puts into the Organisation, each of the wrong type or size.
ODD_ORGANISATION = {
    "Name": "N" * 1000,
    "IsDemoCompany": "yes",
    "ShortCode": ["!", "odd"],
    "CountryCode": "AUSTRALIA-AND-NEW-ZEALAND",
    "Version": {"major": 2},
    "OrganisationType": None,
}
# An integer no database column holds (the issue's overflow on SQLite).
ODD_LIMIT_HEADER = str(10**23)
# A name with what a text column or an email header must never take from outside.
NUL_NAME = "Acme\x00 Pty\r\nBcc: everyone@example.com\x1b[31m Ltd\u202e"
NUL_BODY = "Service temporarily unavailable\x00\x00\x07 (a body with NUL characters)"
STREAM_CHUNK = 1 << 20

# (path, scope that grants it, whether it is payroll)
ENDPOINTS = {
    "/api.xro/2.0/Organisation": ("accounting.settings", False),
    "/payroll.xro/1.0/PayItems": ("payroll.settings", True),
    "/payroll.xro/1.0/Settings": ("payroll.settings", True),
}


@dataclass
class PrivateApp:
    consumer_key: str
    public_key_pem: str | None
    organisation: Organisation
    payroll_enabled: bool


@dataclass
class CustomConnection:
    client_id: str
    client_secret: str
    organisation: Organisation
    scopes: tuple[str, ...]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    auth_event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: float = field(default_factory=time.time)
    # The organisation's admin removed it in Xero: /connections lists nothing.
    disconnected: bool = False


@dataclass
class IssuedToken:
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True)
class Call:
    """One request the fake answered (control API requests are not recorded)."""

    method: str
    path: str
    time: float
    client_id: str | None
    status: int | None
    # The request's headers, the Authorization header's credentials left out (its scheme
    # kept): what a client sends to which endpoint (issue 26: nothing extra to the
    # identity server).
    headers: dict = field(default_factory=dict, compare=False)


@dataclass
class _Failure:
    kind: str
    remaining: int
    options: dict


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    # A streamed body instead of ``body``: ``length`` bytes in ``chunks``, each after
    # ``interval`` seconds (drip feeds, huge bodies); ``length`` None sends no Content-Length.
    chunks: Iterable[bytes] | None = None
    length: int | None = None
    interval: float = 0.0


class FakeXero(webapp.WebAppMixin):
    """A fake Xero server in a daemon thread; see the module docstring for what it serves.

    ``fake.start()`` binds 127.0.0.1 (``port=0`` picks a free port); ``fake.stop()`` or
    leaving a ``with`` block shuts it down. ``latency`` seconds are slept by every request;
    ``clock_offset`` is how many seconds the fake's clock runs ahead of ours.
    """

    def __init__(
        self,
        port: int = 0,
        latency: float = 0.0,
        *,
        enforce_limits: bool = False,
        verbose: bool = False,
    ):
        self.port = port
        self.latency = latency
        self.enforce_limits = enforce_limits
        self.verbose = verbose
        self.clock_offset = 0.0
        self._initial_latency = latency
        # The identity server's signing key (id_tokens, RS256), published at jwks_url.
        self.signing_key = webapp.signing_key()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clear()

    # Life cycle -------------------------------------------------------------------------

    def start(self) -> "FakeXero":
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            # A short poll interval keeps stop() (and so every test's teardown) quick.
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"fake-xero-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still sleeping are woken and their connections closed."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakeXero":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api.xro/2.0/"

    @property
    def payroll_url(self) -> str:
        return f"{self.url}/payroll.xro/1.0/"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}{webapp.JWKS_PATH}"

    @property
    def identity_url(self) -> str:
        return f"{self.url}/connect/token"

    @property
    def connections_url(self) -> str:
        return f"{self.url}/connections"

    # Set-up -----------------------------------------------------------------------------

    def register_private_app(
        self,
        consumer_key: str,
        certificate_pem: str | None,
        organisation: Organisation | None = None,
        payroll_enabled: bool = True,
    ) -> Organisation:
        """Register an OAuth 1.0a private application, as on Xero's "Add Application" page.

        ``certificate_pem`` None registers an app without a certificate (Xero then rejects
        every signature method).
        """
        organisation = organisation or Organisation()
        public_key = oauth1.public_key_pem(certificate_pem) if certificate_pem else None
        with self._lock:
            self._private_apps[consumer_key] = PrivateApp(
                consumer_key, public_key, organisation, payroll_enabled
            )
        return organisation

    def register_custom_connection(
        self,
        client_id: str,
        client_secret: str,
        organisation: Organisation | None = None,
        scopes=DEFAULT_SCOPES,
        payroll_enabled: bool = True,
    ) -> Organisation:
        """Register an OAuth 2.0 custom connection to one organisation with these scopes."""
        organisation = organisation or Organisation()
        scopes = tuple(scopes)
        if not payroll_enabled:
            scopes = tuple(scope for scope in scopes if not scope.startswith("payroll."))
        with self._lock:
            self._connections[client_id] = CustomConnection(
                client_id, client_secret, organisation, scopes
            )
        return organisation

    def spend_day_calls(self, tenant_id: str, count: int) -> None:
        """Count ``count`` calls against an organisation's day limit, as if made earlier
        today: the next answer's ``X-DayLimit-Remaining`` counts down from there."""
        now = time.monotonic()
        with self._lock:
            self._day[tenant_id].extend([now] * count)

    def disconnect_in_xero(self, tenant_id: str) -> None:
        """What an organisation's admin does in Xero's "Connected apps": remove every app's
        connection to it, a web app's and a Custom Connection's alike."""
        super().disconnect_in_xero(tenant_id)
        with self._lock:
            for connection in self._connections.values():
                if connection.organisation.tenant_id == tenant_id:
                    connection.disconnected = True

    def fail_next(self, kind: str, count: int = 1, **options) -> None:
        """Make the next ``count`` API calls (token calls for "token_error") fail this way.

        Options: ``retry_after`` (rate limits), ``seconds`` ("slow"), ``problem`` (the
        X-Rate-Limit-Problem of "rate_limit_oauth1"), and for the hostile kinds:

        - "drip": the answer one byte every ``interval`` seconds (0.5), with a
          Content-Length; ``status`` (200) and ``location`` make it a dripping redirect;
        - "redirect": a ``status`` (302) to ``location`` (another server's address);
        - "slow_redirects": each of ``count`` calls waits ``seconds`` (1) and answers a 302
          back to the same address, so a client that follows redirects never ends;
        - "huge": a JSON answer of ``size`` bytes (300 MiB), streamed, with a
          Content-Length unless ``declare_length`` is false;
        - "gzip_bomb": a gzip body of a few hundred KiB that inflates to ``size`` (400 MiB);
        - "odd_types": the Organisation with fields of the wrong type or size, and
          rate-limit headers no integer column holds;
        - "nul": NUL, control and bidi characters in the organisation's name, or with
          ``where="body"`` a non-JSON answer containing NUL;
        - "odd_token": the next token answer (a Custom Connection's, or a web app's code
          or refresh exchange, which is done) with the fields of ``token`` put in
          (``{"expires_in": 10**20}``) and those named in ``drop`` left out.
        """
        if kind not in FAILURE_KINDS:
            raise ValueError(f"Unknown failure kind {kind!r}; one of {sorted(FAILURE_KINDS)}.")
        if count < 1:
            raise ValueError("count must be at least 1.")
        with self._lock:
            self._failures.append(_Failure(kind, count, options))

    def expire_tokens(self) -> None:
        """Every access token issued so far is now expired."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, self.now() - 1)
        with self.web.lock:
            for web_token in self.web.access_tokens.values():
                web_token.expires_at = min(web_token.expires_at, self.now() - 1)

    def reset(self) -> None:
        """Forget every app, token, failure, call and counter; clock and latency back to start."""
        self._clear()

    def _clear(self) -> None:
        with self._lock:
            # A Xero outage: every API call of every organisation answers 503 until cleared.
            self.outage = False
            self.clock_offset = 0.0
            self.latency = self._initial_latency
            self._private_apps: dict[str, PrivateApp] = {}
            self._connections: dict[str, CustomConnection] = {}
            self._tokens: dict[str, IssuedToken] = {}
            self._nonces: dict[tuple[str, str], float] = {}
            self._failures: list[_Failure] = []
            self._calls: list[Call] = []
            self._minute: defaultdict[str, deque[float]] = defaultdict(deque)
            self._day: defaultdict[str, deque[float]] = defaultdict(deque)
            self._app_minute: deque = deque()
            self._in_flight = 0
            self._in_flight_by_org: dict[str, int] = defaultdict(int)
            self._max_in_flight = 0
            self._max_in_flight_by_org: dict[str, int] = defaultdict(int)
            self.web = webapp.WebAppState()

    # Observation ------------------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock: ours plus ``clock_offset``."""
        return time.time() + self.clock_offset

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued since the last reset (for tests that hunt for leaks)."""
        with self._lock:
            return list(self._tokens)

    @property
    def in_flight(self) -> int:
        """How many requests the fake is answering right now."""
        with self._lock:
            return self._in_flight

    @property
    def max_concurrent(self) -> int:
        """The most requests ever in flight at once, over every organisation."""
        with self._lock:
            return self._max_in_flight

    @property
    def max_concurrent_per_organisation(self) -> dict[str, int]:
        """The most API calls ever in flight at once, by OrganisationID."""
        with self._lock:
            return dict(self._max_in_flight_by_org)

    # Internals used by the handler ------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _take_failure(self, *, token: bool = False, where: str | None = None) -> _Failure | None:
        """Take the next failure queued for ``where`` (an endpoint of ``webapp``), else for
        the token endpoint (``token``) or the API."""
        wanted = where or ("token" if token else "api")
        with self._lock:
            for failure in self._failures:
                target = webapp.FAILURE_KINDS.get(failure.kind) or (
                    "token" if failure.kind in TOKEN_KINDS else "api"
                )
                if target == wanted:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure
        return None

    @contextmanager
    def _request_in_flight(self):
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    @contextmanager
    def _api_call_in_flight(self, organisation: Organisation):
        """Yield None when admitted, or the 429 answer when the concurrent limit is hit."""
        tenant = organisation.tenant_id
        with self._lock:
            refused = self.enforce_limits and self._in_flight_by_org[tenant] >= CONCURRENT_LIMIT
            if not refused:
                self._in_flight_by_org[tenant] += 1
                self._max_in_flight_by_org[tenant] = max(
                    self._max_in_flight_by_org[tenant], self._in_flight_by_org[tenant]
                )
        if refused:
            yield _Answer(429, headers={"Retry-After": "1", "X-Rate-Limit-Problem": "concurrent"})
            return
        try:
            yield None
        finally:
            with self._lock:
                self._in_flight_by_org[tenant] -= 1

    def _count_call(self, organisation: Organisation) -> tuple[dict, _Answer | None]:
        """Count an API call against the limits; return (limit headers, 429 answer or None)."""
        tenant = organisation.tenant_id
        now = time.monotonic()
        with self._lock:
            minute, day, app = self._minute[tenant], self._day[tenant], self._app_minute
            for window, span in ((minute, 60), (day, 86_400), (app, 60)):
                while window and window[0] <= now - span:
                    window.popleft()
            refused = None
            if self.enforce_limits:
                for window, limit, span, problem in (
                    (day, DAY_LIMIT, 86_400, "day"),
                    (app, APP_MINUTE_LIMIT, 60, "appminute"),
                    (minute, MINUTE_LIMIT, 60, "minute"),
                ):
                    if len(window) >= limit:
                        retry_after = max(1, math.ceil(window[0] + span - now))
                        refused = (problem, retry_after)
                        break
            if refused is None:
                for window in (minute, day, app):
                    window.append(now)
            headers = {
                "X-DayLimit-Remaining": str(max(0, DAY_LIMIT - len(day))),
                "X-MinLimit-Remaining": str(max(0, MINUTE_LIMIT - len(minute))),
                "X-AppMinLimit-Remaining": str(max(0, APP_MINUTE_LIMIT - len(app))),
            }
        if refused is None:
            return headers, None
        problem, retry_after = refused
        return headers, _Answer(
            429,
            headers={**headers, "Retry-After": str(retry_after), "X-Rate-Limit-Problem": problem},
        )

    def _use_nonce(self, consumer_key: str, nonce: str) -> bool:
        """Remember a nonce; False if it was already used within the timestamp window."""
        now = self.now()
        with self._lock:
            horizon = now - 2 * oauth1.TIMESTAMP_WINDOW
            self._nonces = {key: seen for key, seen in self._nonces.items() if seen > horizon}
            if (consumer_key, nonce) in self._nonces:
                return False
            self._nonces[(consumer_key, nonce)] = now
            return True

    def _issue_token(self, connection: CustomConnection, scopes: tuple[str, ...]) -> str:
        now = self.now()
        header = {"alg": "RS256", "kid": "fake-xero", "typ": "JWT"}
        claims = {
            "nbf": int(now),
            "exp": int(now) + TOKEN_LIFETIME,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": connection.client_id,
            "jti": uuid.uuid4().hex,
            "authentication_event_id": connection.auth_event_id,
            "scope": list(scopes),
        }
        token = ".".join(
            [
                _b64(json.dumps(header).encode()),
                _b64(json.dumps(claims).encode()),
                _b64(secrets.token_bytes(64)),
            ]
        )
        with self._lock:
            self._tokens[token] = IssuedToken(connection.client_id, scopes, now + TOKEN_LIFETIME)
        return token


def _recorded_headers(headers) -> dict:
    recorded = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            value = value.split(" ", 1)[0]
        recorded[name] = value
    return recorded


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeXero


@dataclass
class _Principal:
    """Who made an authenticated API call."""

    client_id: str | None
    organisation: Organisation
    payroll_allowed: bool
    scopes: tuple[str, ...] | None  # None for OAuth 1.0a: scopes do not apply


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK, adding 40 ms to every answer on Linux.
    disable_nagle_algorithm = True
    server: _Server

    # Plumbing ---------------------------------------------------------------------------

    def version_string(self) -> str:
        return "nginx"

    @property
    def fake(self) -> FakeXero:
        return self.server.fake

    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        if self.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def _dispatch(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        split = urlsplit(self.path)
        self.route, self.query = split.path, split.query
        if self.route.startswith("/_sandbox/"):
            self._send(self._control())
            return
        with self.fake._request_in_flight():
            client_id, answer = self._xero()
            self.fake._record(
                Call(
                    self.command,
                    self.route,
                    time.time(),
                    client_id,
                    answer.status if answer else None,
                    _recorded_headers(self.headers),
                )
            )
        # A call is over once its answer is made: were sending counted too, a client's next
        # request could arrive before this thread left, and look like a second call at once.
        if answer is None:
            self._drop()
        else:
            self._send(answer)

    def _send(self, answer: _Answer) -> None:
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.chunks is None:
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
            return
        if answer.length is not None:
            self.send_header("Content-Length", str(answer.length))
        else:
            self.close_connection = True
        self.end_headers()
        # The client may give up half-way: that is the point of these answers.
        with suppress(OSError):
            for chunk in answer.chunks:
                if self.fake._stopping.is_set():
                    self.close_connection = True
                    return
                self.fake._sleep(answer.interval)
                self.wfile.write(chunk)
                self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _json(self, status: int, payload, headers: dict | None = None) -> _Answer:
        return _Answer(
            status,
            json.dumps(payload).encode("utf-8"),
            "application/json; charset=utf-8",
            headers or {},
        )

    def _text(self, status: int, text: str, content_type: str, headers=None) -> _Answer:
        return _Answer(status, text.encode("utf-8"), content_type, headers or {})

    def _not_found(self) -> _Answer:
        return self._text(404, bodies.NOT_FOUND_TEXT, "text/html; charset=utf-8")

    # Xero ------------------------------------------------------------------------------

    def _xero(self) -> tuple[str | None, _Answer | None]:
        if self.route == webapp.AUTHORIZE_PATH and self.command in ("GET", "POST"):
            return webapp.handle_authorize(self, known_scopes=KNOWN_SCOPES)
        if self.route == webapp.REVOCATION_PATH and self.command == "POST":
            return webapp.handle_revocation(self, *self._client_form())
        if self.route == "/connect/token" and self.command == "POST":
            return self._token()
        if self.route == webapp.JWKS_PATH and self.command == "GET":
            return webapp.handle_jwks(self)
        if (
            self.route == "/connections"
            and self.command == "GET"
            or (self.route.startswith("/connections/") and self.command == "DELETE")
        ):
            self.fake._sleep(self.fake.latency)
            grant, refused = webapp.web_bearer(self)
            if grant is not None:
                return grant.client_id, refused or webapp.handle_connections(self, grant)
            if self.command == "DELETE":
                return None, self._unauthorised("AuthenticationUnsuccessful", "invalid_token")
            return self._connections()
        if self.route in ENDPOINTS and self.command == "GET":
            return self._api(*ENDPOINTS[self.route])
        self.fake._sleep(self.fake.latency)
        return None, self._not_found()

    def _client_form(self) -> tuple[dict, str | None, str | None]:
        """The form of a token-endpoint request and the client's id and secret (HTTP Basic
        or form fields)."""
        form = dict(parse_qsl(self.body))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = self.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
                raw_id, _, raw_secret = decoded.partition(":")
                # RFC 6749 §2.3.1: each is form-urlencoded before Basic joins them, so a
                # conforming server form-decodes them ("+" is a space, "%2B" a plus).
                client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            except ValueError:
                client_id = client_secret = None
        return form, client_id, client_secret

    def _token(self) -> tuple[str | None, _Answer]:
        self.fake._sleep(self.fake.latency)
        form, client_id, client_secret = self._client_form()
        if client_id in self.fake.web.apps:
            return webapp.handle_token(self, form, client_id, client_secret)
        failure = self.fake._take_failure(token=True)
        if failure and failure.kind != "odd_token":
            return client_id, self._json(500, {"error": "server_error"})
        with self.fake._lock:
            connection = self.fake._connections.get(client_id or "")
        if connection is None or not secrets.compare_digest(
            connection.client_secret.encode(), (client_secret or "").encode()
        ):
            return client_id, self._json(400, {"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials":
            return client_id, self._json(400, {"error": "unsupported_grant_type"})
        requested = tuple(form["scope"].split()) if form.get("scope") else connection.scopes
        if not set(requested) <= set(connection.scopes):
            return client_id, self._json(400, {"error": "invalid_scope"})
        token = self.fake._issue_token(connection, requested)
        answer = {
            "access_token": token,
            "expires_in": TOKEN_LIFETIME,
            "token_type": "Bearer",
            "scope": " ".join(requested),
        }
        if failure:
            answer = bodies.odd_token(answer, failure.options)
        return client_id, self._json(200, answer)

    def _bearer(self) -> tuple[CustomConnection | None, IssuedToken | None, _Answer | None]:
        authorization = self.headers.get("Authorization", "")
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        with self.fake._lock:
            issued = self.fake._tokens.get(token)
            connection = self.fake._connections.get(issued.client_id) if issued else None
        if issued is None or connection is None:
            return None, None, self._unauthorised("AuthenticationUnsuccessful", "invalid_token")
        if issued.expires_at <= self.fake.now():
            expired_at = datetime.fromtimestamp(issued.expires_at, UTC)
            detail = f"TokenExpired: token expired at {expired_at:%m/%d/%Y %H:%M:%S}"
            return connection, issued, self._unauthorised(detail, "invalid_token")
        return connection, issued, None

    def _unauthorised(self, detail: str, error: str) -> _Answer:
        return self._json(
            401,
            bodies.problem_json(401, "Unauthorized", detail),
            {"WWW-Authenticate": f'Bearer error="{error}"'},
        )

    def _forbidden(self) -> _Answer:
        return self._json(403, bodies.problem_json(403, "Forbidden", "AuthenticationUnsuccessful"))

    def _connections(self) -> tuple[str | None, _Answer]:
        connection, _, refused = self._bearer()
        client_id = connection.client_id if connection else None
        if refused:
            return client_id, refused
        assert connection is not None  # not refused: _bearer found the connection
        if connection.disconnected:
            return client_id, self._json(200, [])
        created = datetime.fromtimestamp(connection.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0")
        return client_id, self._json(
            200,
            [
                {
                    "id": connection.id,
                    "authEventId": connection.auth_event_id,
                    "tenantId": connection.organisation.tenant_id,
                    "tenantType": "ORGANISATION",
                    "tenantName": connection.organisation.Name,
                    "createdDateUtc": created,
                    "updatedDateUtc": created,
                }
            ],
        )

    def _authenticate(self) -> tuple[str | None, _Principal | None, _Answer | None]:
        """Return (client id, principal, None) or (client id or None, None, refusal)."""
        authorization = self.headers.get("Authorization")
        grant, refused = webapp.web_bearer(self)
        if grant is not None:
            if refused:
                return grant.client_id, None, refused
            organisation = webapp.tenant_of(self, grant)
            if organisation is None:
                return grant.client_id, None, self._forbidden()
            payroll = any(scope.startswith("payroll.") for scope in grant.scopes)
            principal = _Principal(grant.client_id, organisation, payroll, grant.scopes)
            return grant.client_id, principal, None
        if authorization and authorization.lower().startswith("bearer "):
            connection, issued, refused = self._bearer()
            client_id = connection.client_id if connection else None
            if refused:
                return client_id, None, refused
            assert connection is not None and issued is not None  # not refused: both found
            tenant = self.headers.get("Xero-Tenant-Id")
            if tenant and tenant != connection.organisation.tenant_id:
                return client_id, None, self._forbidden()
            payroll = any(scope.startswith("payroll.") for scope in issued.scopes)
            principal = _Principal(client_id, connection.organisation, payroll, issued.scopes)
            return client_id, principal, None
        params = oauth1.oauth_params(authorization, self.query)
        if params is None:
            return None, None, self._unauthorised("AuthenticationUnsuccessful", "invalid_token")
        with self.fake._lock:
            apps = dict(self.fake._private_apps)
        now = self.fake.now()
        app, problem = oauth1.check_request(
            method=self.command,
            uri=f"http://{self.headers.get('Host', self.fake.url[7:])}{self.path}",
            headers=dict(self.headers.items()),
            body=self.body,
            params=params,
            apps=apps,
            now=now,
        )
        client_id = params.get("oauth_consumer_key")
        if problem is None:
            assert app is not None  # no problem: check_request found the app
            if not self.fake._use_nonce(app.consumer_key, params["oauth_nonce"]):
                problem = oauth1.Problem("nonce_used", {"nonce": params["oauth_nonce"]})
        if problem is not None:
            return client_id, None, self._oauth1_problem(problem)
        assert app is not None  # no problem: check_request found the app
        principal = _Principal(client_id, app.organisation, app.payroll_enabled, None)
        return client_id, principal, None

    def _oauth1_problem(self, problem: oauth1.Problem) -> _Answer:
        values = dict(problem.values)
        extra = []
        if "acceptable" in values:
            extra.append(("oauth_acceptable_timestamps", values.pop("acceptable")))
        if problem.name == "parameter_absent":
            extra.append(("oauth_parameters_absent", values["names"]))
        status, text = bodies.oauth1_problem(problem.name, extra=extra, **values)
        return self._text(status, text, bodies.OAUTH_PROBLEM_CONTENT_TYPE)

    def _api(self, scope: str, payroll: bool) -> tuple[str | None, _Answer | None]:
        client_id, principal, refused = self._authenticate()
        if refused:
            self.fake._sleep(self.fake.latency)
            return client_id, refused
        assert principal is not None  # not refused: authenticated
        with self.fake._api_call_in_flight(principal.organisation) as too_many:
            if too_many:
                return client_id, too_many
            limit_headers, over_limit = self.fake._count_call(principal.organisation)
            self.fake._sleep(self.fake.latency)
            if over_limit:
                return client_id, over_limit
            answer = self._api_answer(principal, scope, payroll)
            if answer is not None:
                answer.headers = {**limit_headers, **answer.headers}
            return client_id, answer

    def _api_answer(self, principal: _Principal, scope: str, payroll: bool) -> _Answer | None:
        if self.fake.outage:
            return self._text(503, bodies.UNAVAILABLE_TEXT, "text/plain; charset=utf-8")
        failure = self.fake._take_failure(token=False)
        kind = failure.kind if failure else None
        options = failure.options if failure else {}
        if kind == "drop":
            return None
        if kind == "slow":
            self.fake._sleep(float(options.get("seconds", 5)))
        if failure is not None and kind in HOSTILE_KINDS:
            hostile = self._hostile_answer(failure)
            if hostile is not None:
                return hostile
        refusal = (
            self._failure_answer(failure)
            if failure is not None and kind not in ("slow", "xml_body", *HOSTILE_KINDS)
            else None
        )
        if refusal:
            return refusal
        if principal.scopes is not None and not _grants(principal.scopes, scope):
            return self._insufficient_scope()
        if payroll and not principal.payroll_allowed:
            return self._oauth1_problem(oauth1.Problem("permission_denied", {}))
        if payroll and principal.organisation.Version != "AU":
            return self._not_found()
        now = self.fake.now()
        if self.route.endswith("/Organisation"):
            organisation = principal.organisation.as_xero()
            if kind == "odd_types":
                organisation.update(options.get("organisation", ODD_ORGANISATION))
            elif kind == "nul":
                organisation["Name"] = options.get("name", NUL_NAME)
            payload = bodies.envelope(now, Organisations=[organisation])
        elif self.route.endswith("/PayItems"):
            payload = bodies.envelope(now, PayItems=bodies.pay_items())
        else:
            payload = bodies.envelope(now, Settings=bodies.payroll_settings())
        accept = self.headers.get("Accept", "")
        if kind == "xml_body":
            return self._text(
                200, bodies.to_xml(payload, now=now), "application/xml; charset=utf-8"
            )
        if "application/json" in accept:
            answer = self._json(200, payload)
            if kind == "odd_types":
                answer.headers["X-MinLimit-Remaining"] = ODD_LIMIT_HEADER
                answer.headers["X-DayLimit-Remaining"] = f"-{ODD_LIMIT_HEADER}"
            return answer
        # Xero answers XML unless the client asks for JSON.
        return self._text(200, bodies.to_xml(payload, now=now), "text/xml; charset=utf-8")

    def _hostile_answer(self, failure: _Failure) -> _Answer | None:
        """The answer of a hostile kind, or None where it only changes the usual answer."""
        options = failure.options
        kind = failure.kind
        if kind == "drip":
            status = int(options.get("status", 200))
            body = json.dumps(
                bodies.envelope(self.fake.now(), Organisations=[bodies.Organisation().as_xero()])
            ).encode()
            headers = {"Location": options["location"]} if "location" in options else {}
            return _Answer(
                status,
                content_type="application/json; charset=utf-8",
                headers=headers,
                chunks=(body[i : i + 1] for i in range(len(body))),
                length=len(body),
                interval=float(options.get("interval", 0.5)),
            )
        if kind == "redirect":
            location = options.get("location", "http://127.0.0.2:9/api.xro/2.0/Organisation")
            return self._text(
                int(options.get("status", 302)),
                f"Moved to {location}",
                "text/plain; charset=utf-8",
                {"Location": location},
            )
        if kind == "slow_redirects":
            self.fake._sleep(float(options.get("seconds", 1)))
            return self._text(
                302, "Moved", "text/plain; charset=utf-8", {"Location": self.fake.url + self.path}
            )
        if kind == "huge":
            size = int(options.get("size", 300 << 20))
            filler = b" " * STREAM_CHUNK
            return _Answer(
                200,
                content_type="application/json; charset=utf-8",
                chunks=(
                    filler[: min(STREAM_CHUNK, size - sent)]
                    for sent in range(0, size, STREAM_CHUNK)
                ),
                # Without a Content-Length the client learns the size only by reading.
                length=size if options.get("declare_length", True) else None,
            )
        if kind == "gzip_bomb":
            body = _gzip_of_zeros(int(options.get("size", 400 << 20)))
            return _Answer(
                200,
                body,
                "application/json; charset=utf-8",
                {"Content-Encoding": "gzip"},
            )
        if kind == "nul" and options.get("where") == "body":
            return self._text(200, NUL_BODY, "text/plain; charset=utf-8")
        return None

    def _insufficient_scope(self) -> _Answer:
        return self._json(
            401,
            bodies.problem_json(401, "Unauthorized", "AuthorizationUnsuccessful"),
            {"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
        )

    def _failure_answer(self, failure: _Failure) -> _Answer:
        options = failure.options
        if failure.kind == "unavailable":
            return self._text(503, bodies.UNAVAILABLE_TEXT, "text/plain; charset=utf-8")
        if failure.kind == "server_error":
            return self._json(
                500, bodies.problem_json(500, "An error occurred", bodies.SERVER_ERROR_DETAIL)
            )
        if failure.kind == "rate_limit_minute":
            retry_after = str(options.get("retry_after", 30))
            return _Answer(
                429, headers={"Retry-After": retry_after, "X-Rate-Limit-Problem": "minute"}
            )
        if failure.kind == "rate_limit_day":
            retry_after = str(options.get("retry_after", 3600))
            return _Answer(429, headers={"Retry-After": retry_after, "X-Rate-Limit-Problem": "day"})
        if failure.kind == "rate_limit_oauth1":
            return self._text(
                503,
                bodies.OAUTH1_RATE_LIMIT_BODY,
                bodies.OAUTH_PROBLEM_CONTENT_TYPE,
                {"X-Rate-Limit-Problem": options.get("problem", "minute")},
            )
        if failure.kind == "forbidden":
            return self._forbidden()
        if failure.kind == "insufficient_scope":
            return self._insufficient_scope()
        if failure.kind == "token_rejected":
            # RFC 6750 §3.1: a token the server does not accept (revoked, or unknown).
            return self._unauthorised("AuthenticationUnsuccessful", "invalid_token")
        if failure.kind == "html_body":
            return self._text(200, bodies.LOGIN_PAGE, "text/html; charset=utf-8")
        raise AssertionError(failure.kind)

    # Control API ------------------------------------------------------------------------

    def _control(self) -> _Answer:
        try:
            data = json.loads(self.body) if self.body else {}
            if not isinstance(data, dict):
                raise ValueError("Send a JSON object.")
            return self._control_action(data)
        except (ValueError, KeyError, TypeError) as error:
            message = f"Missing field {error}." if isinstance(error, KeyError) else str(error)
            return self._json(400, {"error": message})

    def _control_action(self, data: dict) -> _Answer:
        fake = self.fake
        action = (self.command, self.route.rstrip("/"))
        if action == ("POST", "/_sandbox/private-apps"):
            organisation = fake.register_private_app(
                data["consumer_key"],
                data.get("certificate_pem"),
                _organisation(data),
                payroll_enabled=bool(data.get("payroll_enabled", True)),
            )
            return self._json(201, {"organisation": organisation.as_xero()})
        if action == ("POST", "/_sandbox/custom-connections"):
            organisation = fake.register_custom_connection(
                data["client_id"],
                data["client_secret"],
                _organisation(data),
                scopes=data.get("scopes") or DEFAULT_SCOPES,
                payroll_enabled=bool(data.get("payroll_enabled", True)),
            )
            return self._json(201, {"organisation": organisation.as_xero()})
        if action == ("POST", "/_sandbox/web-apps"):
            fake.register_web_app(data["client_id"], data["client_secret"], data["redirect_uri"])
            return self._json(201, {"client_id": data["client_id"]})
        if action == ("POST", "/_sandbox/organisations"):
            organisation = fake.add_user_organisation(str(data["organisation_name"]))
            return self._json(201, {"organisation": organisation.as_xero()})
        if action == ("POST", "/_sandbox/failures"):
            options = {k: v for k, v in data.items() if k not in ("kind", "count")}
            fake.fail_next(data["kind"], int(data.get("count", 1)), **options)
            return self._json(201, {"kind": data["kind"], "count": int(data.get("count", 1))})
        if action == ("POST", "/_sandbox/disconnect"):
            fake.disconnect_in_xero(str(data["tenant_id"]))
            return self._json(200, {"disconnected": data["tenant_id"]})
        if action == ("POST", "/_sandbox/outage"):
            fake.outage = bool(data.get("on", True))
            return self._json(200, {"outage": fake.outage})
        if action == ("POST", "/_sandbox/day-calls"):
            fake.spend_day_calls(str(data["tenant_id"]), int(data["count"]))
            return self._json(200, {"spent": int(data["count"])})
        if action == ("POST", "/_sandbox/revoke-consent"):
            return self._json(200, {"revoked": fake.revoke_consent_in_xero()})
        if action == ("GET", "/_sandbox/calls"):
            return self._json(200, [asdict(call) for call in fake.calls])
        if action == ("POST", "/_sandbox/reset"):
            fake.reset()
            return self._json(200, {"reset": True})
        if action == ("POST", "/_sandbox/clock"):
            fake.clock_offset = float(data["offset"])
            return self._json(200, {"offset": fake.clock_offset})
        return self._json(404, {"error": f"No control action {self.command} {self.route}."})


@functools.lru_cache(maxsize=4)
def _gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped (400 MiB gives about 400 KiB), made once per size."""
    block = bytes(STREAM_CHUNK)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # After a full flush the compressor starts afresh, so every whole block compresses to
    # the same bytes: compressing one stands for all, and the bomb is made in a blink.
    whole = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, STREAM_CHUNK)
    tail = compressor.compress(bytes(rest)) + compressor.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(bytes(rest), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + whole * count + tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _organisation(data: dict) -> Organisation | None:
    name = data.get("organisation_name")
    return Organisation(Name=name) if name else None


def _grants(scopes: tuple[str, ...], needed: str) -> bool:
    """A scope grants its endpoint; "x" also grants what "x.read" does."""
    return needed in scopes or f"{needed}.read" in scopes
