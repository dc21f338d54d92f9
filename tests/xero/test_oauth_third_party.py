"""The OAuth 2.0 client code against a third-party authorization server: one built from
oauthlib's own server classes (``oauthlib.oauth2.Server``: its authorization code grant
with PKCE, refresh token rotation, client credentials and RFC 7009 revocation
endpoint), served over real HTTP on 127.0.0.1.

oauthlib leaves client authentication to its ``RequestValidator``; the validator here
decodes HTTP Basic the way RFC 6749 §2.3.1 says (base64, split at the first ":", each
part form-urlencoded-decoded), like any conforming server. The rest (the grants' rules,
the S256 check of the PKCE verifier, the token and revocation answers) is oauthlib's.
"""

import base64
import threading
import wsgiref.simple_server
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import pytest
import requests
from oauthlib.oauth2 import RequestValidator, Server

from xero import client, exceptions, web_app
from xero.client import XeroSession

# XeroSession takes its call slots in the database (xero/limits.py).
pytestmark = pytest.mark.django_db

CLIENT_ID = "third-party-client"
# Every character RFC 6749 §2.3.1 makes a client encode.
CLIENT_SECRET = "a+b%2Fc:d e/f=g&h"  # noqa: S105 - the test server's
REDIRECT_URI = "http://127.0.0.1:9/xero/callback/"


class Validator(RequestValidator):
    """An in-memory authorization server's decisions (one client, one user)."""

    def __init__(self):
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, list[str]] = {}  # live ones, with their scopes
        self.revoked: list[str] = []

    # Client authentication (RFC 6749 §2.3.1).

    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        authorization = request.headers.get("Authorization", "")
        if not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:]).decode("utf-8")
        except ValueError:
            return False
        raw_id, _, raw_secret = decoded.partition(":")
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return False
        request.client = type("Client", (), {"client_id": client_id})()
        request.client_id = client_id
        return True

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return client_id == CLIENT_ID

    # The authorization request.

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return redirect_uri == REDIRECT_URI

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        return REDIRECT_URI

    def validate_response_type(self, client_id, response_type, client, request, *a, **kw):
        return response_type == "code"

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return ["accounting.settings.read"]

    def is_pkce_required(self, client_id, request):
        return True

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.codes[code["code"]] = {
            "challenge": request.code_challenge,
            "method": request.code_challenge_method,
            "scopes": request.scopes,
        }

    # The token requests.

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        saved = self.codes.get(code)
        if saved is None:
            return False
        request.scopes = saved["scopes"]
        request.user = "bea"
        return True

    def get_code_challenge(self, code, request):
        return self.codes[code]["challenge"]

    def get_code_challenge_method(self, code, request):
        return self.codes[code]["method"]

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *a, **kw):
        return redirect_uri == REDIRECT_URI

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.codes.pop(code, None)

    def save_bearer_token(self, token, request, *args, **kwargs):
        if "refresh_token" in token:
            self.refresh_tokens[token["refresh_token"]] = list(request.scopes or [])

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        return refresh_token in self.refresh_tokens

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        return self.refresh_tokens[refresh_token]

    def rotate_refresh_token(self, request):
        return True

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        if self.refresh_tokens.pop(token, None) is not None:
            self.revoked.append(token)


@pytest.fixture
def third_party(monkeypatch, settings):
    """oauthlib's authorization server on a free port; the XERO_* settings point at it."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on 127.0.0.1
    validator = Validator()
    server = Server(validator)

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        host = environ["HTTP_HOST"]
        query = environ.get("QUERY_STRING", "")
        uri = f"http://{host}{environ['PATH_INFO']}" + (f"?{query}" if query else "")
        path = environ["PATH_INFO"]
        if path == "/authorize":
            scopes, credentials = server.validate_authorization_request(uri, "GET", "", headers)
            answer = server.create_authorization_response(
                uri, "GET", "", headers, scopes=scopes, credentials=credentials
            )
        elif path == "/token":
            answer = server.create_token_response(uri, "POST", body, headers)
        elif path == "/revoke":
            answer = server.create_revocation_response(uri, "POST", body, headers)
        else:
            answer = ({}, "", 404)
        out_headers, out_body, status = answer
        start_response(f"{status} X", [*out_headers.items()] or [("Content-Type", "text/plain")])
        return [(out_body or "").encode()]

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    httpd = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_port}"
    settings.XERO_AUTHORIZE_URL = f"{url}/authorize"
    settings.XERO_IDENTITY_URL = f"{url}/token"
    settings.XERO_REVOCATION_URL = f"{url}/revoke"
    settings.XERO_APP_CLIENT_ID = CLIENT_ID
    settings.XERO_APP_CLIENT_SECRET = CLIENT_SECRET
    try:
        yield validator
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def authorize(verifier_pair=None) -> tuple[str, str]:
    """The browser's part: follow web_app.authorize_url; return (code, verifier)."""
    verifier, challenge = verifier_pair or web_app.new_pkce_pair()
    url = web_app.authorize_url(
        redirect_uri=REDIRECT_URI,
        state="state-1",
        code_challenge=challenge,
        scopes=web_app.scopes_for(payroll=False),
        nonce="nonce-1",
    )
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    query = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert query["state"] == "state-1"
    return query["code"], verifier


def token(grant: dict, secret: str = CLIENT_SECRET) -> dict:
    return client.oauth2_token(
        XeroSession(), client_id=CLIENT_ID, client_secret=secret, grant=grant
    )


def test_client_credentials_with_a_secret_a_conforming_server_must_decode(third_party):
    answer = token({"grant_type": "client_credentials"})

    assert answer["access_token"] and answer["token_type"] == "Bearer"


def test_a_wrong_secret_is_invalid_client(third_party):
    with pytest.raises(exceptions.InvalidClient):
        token({"grant_type": "client_credentials"}, secret=CLIENT_SECRET + "x")


def test_pkce_code_exchange_refresh_rotation_and_revocation(third_party):
    code, verifier = authorize()
    first = token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
    )
    second = token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert second["refresh_token"] != first["refresh_token"]

    web_app.revoke(session=XeroSession(), refresh_token=second["refresh_token"])

    assert third_party.revoked == [second["refresh_token"]]
    with pytest.raises(exceptions.XeroProblem, match="invalid_grant"):
        token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})


def test_a_code_exchanged_with_another_verifier_is_refused(third_party):
    code, _ = authorize()
    other_verifier, _ = web_app.new_pkce_pair()

    with pytest.raises(exceptions.XeroProblem, match="invalid_grant"):
        token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": other_verifier,
            }
        )
