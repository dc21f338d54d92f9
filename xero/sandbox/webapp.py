"""Xero's standard web app in the fake: the consent page, the authorization-code and
refresh-token grants, ``/connections`` of a user and the revocation endpoint.

What Xero does, and so what this does (developer.xero.com, "OAuth 2.0 auth code flow"):

- ``/identity/connect/authorize`` shows the signed-in user a consent page listing their
  organisations; approving redirects to the app's ``redirect_uri`` with a one-use ``code``
  (5 minutes) and the app's ``state``; denying redirects with ``error=access_denied``.
  With ``code_challenge`` (PKCE, RFC 7636) the code is only exchanged with the verifier.
- Each approval is an *auth event*: the organisations picked get (or keep) a connection of
  this user to this app, stamped with the event's ``authEventId``.
- A refresh returns a new refresh token; the one used stays usable for a 30-minute grace
  (in case the answer was lost), after which it is ``invalid_grant``. A refresh token
  unused for 60 days expires.
- Revoking a refresh token ends the grant and removes the user's connections to the app.
- With ``openid`` in the scopes, the code exchange's answer carries an id_token signed
  RS256 with a key published at ``JWKS_PATH``, naming the app (``aud``), Xero's identity
  server (``iss``) and the authorization request's ``nonce``.

Which of these are Xero's documented behaviours and which are assumptions is listed in
``docs/oauth.md`` ("What the sandbox assumes").

The handler of ``server.py`` calls the ``handle_*`` functions with itself; they answer
through its ``_json``/``_text`` helpers, so this module imports nothing of the server.
"""

import base64
import functools
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from . import bodies
from .bodies import Organisation

ACCESS_TOKEN_LIFETIME = 1800
CODE_LIFETIME = 300
REFRESH_GRACE = 1800
REFRESH_TOKEN_LIFETIME = 60 * 86_400

AUTHORIZE_PATH = "/identity/connect/authorize"
REVOCATION_PATH = "/connect/revocation"
# Xero publishes its signing keys here (its OpenID configuration's jwks_uri).
JWKS_PATH = "/.well-known/openid-configuration/jwks"
ISSUER = "https://identity.xero.com"
ID_TOKEN_LIFETIME = 300

# Failure kinds of the web-app endpoints, and the endpoint each makes fail.
FAILURE_KINDS = {
    "invalid_grant": "token",  # the next code or refresh exchange answers invalid_grant
    "token_lost": "token",  # the next refresh is done, but its answer never arrives
    "connections_error": "connections",  # /connections (GET or DELETE) answers 503
    "revocation_error": "revocation",  # the revocation endpoint answers 503
    "consent_error": "authorize",  # the consent page redirects back with server_error
    # The next code exchange's id_token with ``claims`` put in (``{"aud": "other"}``),
    # those named in ``drop`` left out, signed by another key when ``forge`` is set, or
    # no id_token at all with ``missing``.
    "odd_id_token": "token",
}


@dataclass
class WebApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class XeroUser:
    """The Xero user who signs in on the consent page."""

    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    email: str = "bookkeeper@example.com"
    given_name: str = "Bea"
    family_name: str = "Keeper"
    organisations: list[Organisation] = field(default_factory=list)


@dataclass
class AppConnection:
    """A user's connection of one app to one organisation (a row of ``/connections``)."""

    organisation: Organisation
    auth_event_id: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)


@dataclass
class _AuthorizeRequest:
    client_id: str
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    nonce: str | None = None


@dataclass
class _Code:
    request: _AuthorizeRequest
    auth_event_id: str
    expires_at: float
    user: XeroUser
    used: bool = False


@dataclass
class Grant:
    """A token set at Xero: one user's consent to one app."""

    id: str
    client_id: str
    user: XeroUser
    scopes: tuple[str, ...]
    auth_event_id: str
    refresh_token: str
    refresh_issued_at: float
    previous_refresh_token: str | None = None
    previous_rotated_at: float = 0.0
    revoked: bool = False


@dataclass
class _AccessToken:
    grant: Grant
    expires_at: float


class WebAppState:
    """Everything the fake knows of web apps; reset with the fake."""

    def __init__(self):
        self.lock = threading.Lock()
        self.apps: dict[str, WebApp] = {}
        self.user = XeroUser()
        self.users: dict[str, XeroUser] = {}
        # (client_id, user_id) -> tenant id -> connection
        self.connections: dict[tuple[str, str], dict[str, AppConnection]] = {}
        self.requests: dict[str, _AuthorizeRequest] = {}
        self.codes: dict[str, _Code] = {}
        self.grants: list[Grant] = []
        self.access_tokens: dict[str, _AccessToken] = {}
        # One entry per refresh the fake performed: (grant id, time).
        self.refreshes: list[tuple[str, float]] = []
        self.revocations: list[str] = []
        self.require_pkce = True

    def user_connections(self, client_id: str, user: XeroUser | None = None):
        """A user's (default: the signed-in one's) connections to an app, by tenant ID."""
        return self.connections.setdefault((client_id, (user or self.user).user_id), {})

    def bearer(self, token: str) -> _AccessToken | None:
        with self.lock:
            return self.access_tokens.get(token)


# The FakeXero API (mixed into FakeXero) ------------------------------------------------------


class WebAppMixin:
    """Set-up and observation of web apps on ``FakeXero``."""

    web: WebAppState
    if TYPE_CHECKING:

        @property
        def url(self) -> str: ...  # FakeXero's

    @property
    def authorize_url(self) -> str:
        return f"{self.url}{AUTHORIZE_PATH}"

    @property
    def revocation_url(self) -> str:
        return f"{self.url}{REVOCATION_PATH}"

    def register_web_app(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """Register a standard web app (Xero's "Web app" integration type)."""
        with self.web.lock:
            app = self.web.apps.get(client_id)
            uris = (*app.redirect_uris, redirect_uri) if app else (redirect_uri,)
            self.web.apps[client_id] = WebApp(client_id, client_secret, uris)

    def add_user_organisation(self, name: str, **fields) -> Organisation:
        """Give the consenting Xero user one more organisation to pick."""
        organisation = Organisation(Name=name, **fields)
        with self.web.lock:
            self.web.user.organisations.append(organisation)
        return organisation

    def sign_in(self, email: str, given_name: str = "Bea", family_name: str = "Keeper") -> XeroUser:
        """Make another Xero user the one who signs in on the consent page (each user has
        organisations of their own; the first one is kept for signing in again)."""
        with self.web.lock:
            self.web.users.setdefault(self.web.user.email, self.web.user)
            user = self.web.users.get(email) or XeroUser(
                email=email, given_name=given_name, family_name=family_name
            )
            self.web.users[email] = user
            self.web.user = user
        return user

    def disconnect_in_xero(self, tenant_id: str) -> None:
        """What the customer does in Xero's "Connected apps": remove every app's connection."""
        with self.web.lock:
            for tenants in self.web.connections.values():
                tenants.pop(tenant_id, None)

    def revoke_consent_in_xero(self) -> int:
        """What the signed-in Xero user does when they remove the app from every
        organisation: each of their consents to every app is revoked (a refresh then answers
        ``invalid_grant``, an access token ``invalid_token``) and their connections go.
        Returns how many consents were revoked."""
        revoked = 0
        with self.web.lock:
            for grant in self.web.grants:
                if grant.user is self.web.user and not grant.revoked:
                    grant.revoked = True
                    self.web.revocations.append(grant.id)
                    revoked += 1
            for key in [key for key in self.web.connections if key[1] == self.web.user.user_id]:
                del self.web.connections[key]
        return revoked

    @property
    def refresh_count(self) -> int:
        """How many refreshes the fake performed (grace-period retries included)."""
        with self.web.lock:
            return len(self.web.refreshes)

    @property
    def revoked_grants(self) -> list[str]:
        with self.web.lock:
            return list(self.web.revocations)

    def web_connections(self, client_id: str) -> list[AppConnection]:
        """The signed-in Xero user's connections to the app."""
        with self.web.lock:
            return list(self.web.user_connections(client_id).values())


# Handlers -----------------------------------------------------------------------------------


def handle_authorize(handler, *, known_scopes: frozenset):
    """GET shows the consent page; POST is the user's answer to it."""
    fake = handler.fake
    web = fake.web
    fake._sleep(fake.latency)
    if handler.command == "POST":
        return None, _decide(handler, dict(parse_qsl(handler.body)))
    params = dict(parse_qsl(handler.query))
    client_id = params.get("client_id", "")
    with web.lock:
        app = web.apps.get(client_id)
    if app is None:
        return client_id, _error_page(
            handler, "unauthorized_client", "Unknown client or client not enabled"
        )
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return client_id, _error_page(handler, "invalid_request", "Invalid redirect_uri")
    state = params.get("state")

    def refuse(error, description):
        query = {"error": error, "error_description": description}
        if state is not None:
            query["state"] = state
        return client_id, _redirect(handler, redirect_uri, query)

    if fake._take_failure(where="authorize"):
        return refuse("server_error", "Something went wrong")
    if params.get("response_type") != "code":
        return refuse("unsupported_response_type", "Only response_type=code is supported")
    scopes = tuple(params.get("scope", "").split())
    if not scopes or not set(scopes) <= known_scopes:
        return refuse("invalid_scope", "Unknown or missing scope")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method", "plain")
    if challenge and method != "S256" or (web.require_pkce and not challenge):
        return refuse("invalid_request", "code_challenge with code_challenge_method=S256 required")
    request_id = secrets.token_urlsafe(16)
    with web.lock:
        web.requests[request_id] = _AuthorizeRequest(
            client_id, redirect_uri, state, scopes, challenge, params.get("nonce")
        )
    return client_id, _consent_page(handler, request_id, scopes)


def _decide(handler, form: dict):
    web = handler.fake.web
    with web.lock:
        request = web.requests.pop(form.get("request", ""), None)
    if request is None:
        return _error_page(handler, "invalid_request", "This consent was already answered")
    query = {} if request.state is None else {"state": request.state}
    if form.get("decision") != "allow":
        return _redirect(
            handler,
            request.redirect_uri,
            {"error": "access_denied", "error_description": "The user denied consent", **query},
        )
    picked = set(form.get("tenants", "").split(",")) | {
        value for key, value in parse_qsl(handler.body) if key == "tenant"
    }
    picked.discard("")
    accounting = any(scope.startswith(("accounting.", "payroll.")) for scope in request.scopes)
    with web.lock:
        organisations = [o for o in web.user.organisations if o.tenant_id in picked]
    if accounting and not organisations:
        request_id = secrets.token_urlsafe(16)
        with web.lock:
            web.requests[request_id] = request
        return _consent_page(
            handler, request_id, request.scopes, error="Select at least one organisation."
        )
    auth_event_id = str(uuid.uuid4())
    now = handler.fake.now()
    code = secrets.token_urlsafe(32)
    with web.lock:
        tenants = web.user_connections(request.client_id)
        for organisation in organisations:
            existing = tenants.get(organisation.tenant_id)
            if existing:
                existing.auth_event_id = auth_event_id
                existing.updated = now
            else:
                tenants[organisation.tenant_id] = AppConnection(
                    organisation, auth_event_id, created=now, updated=now
                )
        web.codes[code] = _Code(request, auth_event_id, now + CODE_LIFETIME, web.user)
    return _redirect(
        handler,
        request.redirect_uri,
        {"code": code, "scope": " ".join(request.scopes), **query},
    )


def handle_token(handler, form: dict, client_id: str | None, client_secret: str | None):
    """The authorization_code and refresh_token grants of a web app."""
    fake = handler.fake
    web = fake.web
    with web.lock:
        app = web.apps.get(client_id)
    if app is None or not secrets.compare_digest(
        app.client_secret.encode(), (client_secret or "").encode()
    ):
        return client_id, handler._json(400, {"error": "invalid_client"})
    failure = fake._take_failure(where="token")
    if failure and failure.kind == "token_error":
        return client_id, handler._json(500, {"error": "server_error"})
    if failure and failure.kind == "invalid_grant":
        return client_id, handler._json(400, {"error": "invalid_grant"})
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        odd = failure.options if failure and failure.kind == "odd_id_token" else None
        answer = _exchange_code(handler, app, form, odd_id_token=odd)
    elif grant_type == "refresh_token":
        answer = _refresh(handler, app, form)
    else:
        answer = handler._json(400, {"error": "unsupported_grant_type"})
    if failure and failure.kind == "token_lost":
        return client_id, None
    if failure and failure.kind == "odd_token" and answer.status == 200:
        answer = handler._json(200, bodies.odd_token(json.loads(answer.body), failure.options))
    return client_id, answer


def _exchange_code(handler, app: WebApp, form: dict, *, odd_id_token: dict | None = None):
    web = handler.fake.web
    now = handler.fake.now()
    with web.lock:
        code = web.codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at <= now:
            return handler._json(400, {"error": "invalid_grant"})
        if code.request.client_id != app.client_id:
            return handler._json(400, {"error": "invalid_grant"})
        if form.get("redirect_uri") != code.request.redirect_uri:
            return handler._json(400, {"error": "invalid_grant"})
        challenge = code.request.code_challenge
        if challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier or not secrets.compare_digest(s256(verifier), challenge):
                return handler._json(
                    400, {"error": "invalid_grant", "error_description": "invalid code_verifier"}
                )
        code.used = True
        grant = Grant(
            id=str(uuid.uuid4()),
            client_id=app.client_id,
            user=code.user,
            scopes=code.request.scopes,
            auth_event_id=code.auth_event_id,
            refresh_token=secrets.token_urlsafe(32),
            refresh_issued_at=now,
        )
        web.grants.append(grant)
    return handler._json(
        200,
        _token_answer(
            handler, grant, id_token=True, nonce=code.request.nonce, odd=odd_id_token or {}
        ),
    )


def _refresh(handler, app: WebApp, form: dict):
    web = handler.fake.web
    now = handler.fake.now()
    token = form.get("refresh_token", "")
    with web.lock:
        for grant in web.grants:
            if grant.client_id != app.client_id or grant.revoked or not token:
                continue
            current = secrets.compare_digest(grant.refresh_token, token)
            in_grace = (
                grant.previous_refresh_token is not None
                and secrets.compare_digest(grant.previous_refresh_token, token)
                and now - grant.previous_rotated_at <= REFRESH_GRACE
            )
            if current and now - grant.refresh_issued_at > REFRESH_TOKEN_LIFETIME:
                return handler._json(400, {"error": "invalid_grant"})
            if current:
                grant.previous_refresh_token = token
                grant.previous_rotated_at = now
            if current or in_grace:
                grant.refresh_token = secrets.token_urlsafe(32)
                grant.refresh_issued_at = now
                web.refreshes.append((grant.id, now))
                break
        else:
            return handler._json(400, {"error": "invalid_grant"})
    return handler._json(200, _token_answer(handler, grant, id_token=False))


def _token_answer(
    handler, grant: Grant, *, id_token: bool, nonce: str | None = None, odd: dict | None = None
) -> dict:
    now = handler.fake.now()
    access_token = _jwt(
        {
            "nbf": int(now),
            "exp": int(now) + ACCESS_TOKEN_LIFETIME,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": grant.client_id,
            "sub": grant.user.user_id,
            "xero_userid": grant.user.user_id,
            "authentication_event_id": grant.auth_event_id,
            "jti": uuid.uuid4().hex,
            "scope": list(grant.scopes),
        }
    )
    with handler.fake.web.lock:
        handler.fake.web.access_tokens[access_token] = _AccessToken(
            grant, now + ACCESS_TOKEN_LIFETIME
        )
    answer = {
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "token_type": "Bearer",
        "refresh_token": grant.refresh_token,
        "scope": " ".join(grant.scopes),
    }
    odd = odd or {}
    if id_token and "openid" in grant.scopes and not odd.get("missing"):
        user = grant.user
        claims = {
            "nbf": int(now),
            "iat": int(now),
            "exp": int(now) + ID_TOKEN_LIFETIME,
            "iss": ISSUER,
            "aud": grant.client_id,
            "sub": user.user_id,
            "xero_userid": user.user_id,
            "email": user.email,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "name": f"{user.given_name} {user.family_name}",
        }
        if nonce is not None:
            # OpenID Connect Core §3.1.2.1: the nonce of the authorization request, echoed.
            claims["nonce"] = nonce
        claims.update(odd.get("claims") or {})
        for name in odd.get("drop") or ():
            claims.pop(name, None)
        signer = forger() if odd.get("forge") else handler.fake.signing_key
        answer["id_token"] = signer.sign(claims)
    return answer


def handle_revocation(handler, form: dict, client_id: str | None, client_secret: str | None):
    fake = handler.fake
    web = fake.web
    fake._sleep(fake.latency)
    with web.lock:
        app = web.apps.get(client_id)
    if app is None or not secrets.compare_digest(
        app.client_secret.encode(), (client_secret or "").encode()
    ):
        return client_id, handler._json(400, {"error": "invalid_client"})
    if fake._take_failure(where="revocation"):
        return client_id, handler._text(503, "Service Unavailable", "text/plain; charset=utf-8")
    token = form.get("token", "")
    with web.lock:
        for grant in web.grants:
            if (
                grant.client_id == app.client_id
                and not grant.revoked
                and token
                in (
                    grant.refresh_token,
                    grant.previous_refresh_token,
                )
            ):
                grant.revoked = True
                web.revocations.append(grant.id)
                # Xero documents that revoking removes the user's connections to the app.
                # Assumed (not documented): only once no other consent of that user to
                # the app is live, so revoking a consent that a newer one replaced leaves
                # the newer one's connections in place.
                if not any(
                    other.client_id == app.client_id
                    and other.user is grant.user
                    and not other.revoked
                    for other in web.grants
                ):
                    web.connections.pop((app.client_id, grant.user.user_id), None)
                for access in [t for t, a in web.access_tokens.items() if a.grant is grant]:
                    del web.access_tokens[access]
    # RFC 7009: an unknown token is answered 200 as well.
    return client_id, handler._text(200, "", "text/plain; charset=utf-8")


def web_bearer(handler):
    """(grant, refusal) for a web-app Bearer token, or (None, None) if it is not one."""
    authorization = handler.headers.get("Authorization", "")
    token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    access = handler.fake.web.bearer(token)
    if access is None:
        return None, None
    if access.grant.revoked:
        return access.grant, handler._unauthorised("AuthenticationUnsuccessful", "invalid_token")
    if access.expires_at <= handler.fake.now():
        expired_at = datetime.fromtimestamp(access.expires_at, UTC)
        detail = f"TokenExpired: token expired at {expired_at:%m/%d/%Y %H:%M:%S}"
        return access.grant, handler._unauthorised(detail, "invalid_token")
    return access.grant, None


def handle_connections(handler, grant: Grant):
    """GET /connections[?authEventId=] or DELETE /connections/{id} for ``grant``'s user."""
    fake = handler.fake
    web = fake.web
    if fake._take_failure(where="connections"):
        return handler._text(503, "Service Unavailable", "text/plain; charset=utf-8")
    with web.lock:
        tenants = web.user_connections(grant.client_id, grant.user)
        if handler.command == "DELETE":
            connection_id = handler.route.rsplit("/", 1)[-1]
            for tenant_id, connection in list(tenants.items()):
                if connection.id == connection_id:
                    del tenants[tenant_id]
                    return handler._text(204, "", None)
            return handler._json(404, {"Title": "Not Found", "Status": 404})
        wanted = dict(parse_qsl(handler.query)).get("authEventId")
        rows = [
            _connection_row(connection)
            for connection in tenants.values()
            if wanted is None or connection.auth_event_id == wanted
        ]
    return handler._json(200, rows)


def tenant_of(handler, grant: Grant) -> Organisation | None:
    """The organisation a web-app call names in ``Xero-Tenant-Id``, if the user connected it."""
    tenant = handler.headers.get("Xero-Tenant-Id", "")
    with handler.fake.web.lock:
        connection = handler.fake.web.user_connections(grant.client_id, grant.user).get(tenant)
    return connection.organisation if connection else None


def _connection_row(connection: AppConnection) -> dict:
    def stamp(value):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0")

    return {
        "id": connection.id,
        "authEventId": connection.auth_event_id,
        "tenantId": connection.organisation.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": connection.organisation.Name,
        "createdDateUtc": stamp(connection.created),
        "updatedDateUtc": stamp(connection.updated),
    }


def s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _jwt(claims: dict) -> str:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    header = {"alg": "RS256", "kid": "fake-xero", "typ": "JWT"}
    return ".".join(
        [
            part(json.dumps(header).encode()),
            part(json.dumps(claims).encode()),
            part(secrets.token_bytes(64)),
        ]
    )


class SigningKey:
    """An RSA key the fake signs id_tokens with (RS256), published as a JWKS."""

    def __init__(self, kid: str):
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, claims: dict) -> str:
        import jwt

        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def jwk(self) -> dict:
        from jwt.algorithms import RSAAlgorithm

        public = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


@functools.cache
def signing_key() -> SigningKey:
    """The fake identity server's key (one per process: an RSA key takes a while to make)."""
    return SigningKey("fake-xero-1")


@functools.cache
def forger() -> SigningKey:
    """Another key under the same kid: what a forged id_token is signed with."""
    return SigningKey("fake-xero-1")


def handle_jwks(handler):
    """The identity server's signing keys (RFC 7517 JWK Set)."""
    handler.fake._sleep(handler.fake.latency)
    return None, handler._json(200, {"keys": [handler.fake.signing_key.jwk()]})


def _redirect(handler, uri: str, query: dict):
    separator = "&" if "?" in uri else "?"
    return handler._text(
        302, "", "text/plain; charset=utf-8", {"Location": f"{uri}{separator}{urlencode(query)}"}
    )


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} | Xero (sandbox)</title>
<style>
body {{ font-family: sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; }}
label {{ display: block; margin: .5rem 0; }}
button {{ font-size: 1rem; padding: .5rem 1rem; margin-right: .5rem; }}
.error {{ color: #b00020; }}
</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def _consent_page(handler, request_id: str, scopes, *, error: str = ""):
    web = handler.fake.web
    with web.lock:
        user = web.user
        organisations = list(user.organisations)
    boxes = (
        "".join(
            f'<label><input type="checkbox" name="tenant" value="{html.escape(o.tenant_id)}">'
            f" {html.escape(o.Name)}</label>"
            for o in organisations
        )
        or "<p>This user has no organisations.</p>"
    )
    body = (
        f"<p>Signed in as {html.escape(user.email)}.</p>"
        f"<p>ImagatecAPI would like to access: {html.escape(', '.join(scopes))}</p>"
        + (f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "")
        + f'<form method="post" action="{AUTHORIZE_PATH}">'
        f'<input type="hidden" name="request" value="{html.escape(request_id)}">'
        f"<fieldset><legend>Select the organisations to connect</legend>{boxes}</fieldset>"
        '<p><button type="submit" name="decision" value="allow">Allow access</button>'
        '<button type="submit" name="decision" value="deny">Cancel</button></p></form>'
    )
    return handler._text(
        200, PAGE.format(title="Connect to ImagatecAPI", body=body), "text/html; charset=utf-8"
    )


def _error_page(handler, error: str, description: str):
    body = f"<p>{html.escape(error)}: {html.escape(description)}</p>"
    return handler._text(
        400, PAGE.format(title="Something went wrong", body=body), "text/html; charset=utf-8"
    )
