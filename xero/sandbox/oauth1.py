"""Server-side checks of an OAuth 1.0a (private application) request, as Xero makes them.

The signature is verified with oauthlib's own server-side functions and the public key of
the certificate the app registered, never with the client code under test.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from oauthlib.oauth1.rfc5849 import signature, utils


class PrivateAppLike(Protocol):
    """What is read here of the fake's private application (``server.PrivateApp``)."""

    consumer_key: str
    public_key_pem: str | None


App = TypeVar("App", bound=PrivateAppLike)

# Xero accepted timestamps up to five minutes either side of its clock.
TIMESTAMP_WINDOW = 300
REQUIRED = (
    "oauth_consumer_key",
    "oauth_signature_method",
    "oauth_signature",
    "oauth_timestamp",
    "oauth_nonce",
)


@dataclass(frozen=True)
class Problem:
    """Why a request was refused: a key of ``bodies.OAUTH1_PROBLEMS`` and its details."""

    name: str
    values: dict


def public_key_pem(certificate_pem: str) -> str:
    """Return the PEM public key inside an X509 certificate (as Xero reads the pasted one)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    return (
        certificate.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )


def oauth_params(authorization: str | None, query: str) -> dict[str, str] | None:
    """The oauth_* parameters from the Authorization header (or query), or None if none."""
    if authorization and authorization.lower().startswith("oauth "):
        pairs = utils.parse_authorization_header(authorization)
        return {name: utils.unescape(value) for name, value in pairs}
    pairs = [
        (k, v)
        for k, v in signature.collect_parameters(uri_query=query, exclude_oauth_signature=False)
        if k.startswith("oauth_")
    ]
    return dict(pairs) or None


def check_request(
    *,
    method: str,
    uri: str,
    headers: dict[str, str],
    body: str,
    params: dict[str, str],
    apps: dict[str, App],
    now: float,
) -> tuple[App | None, Problem | None]:
    """Return (the private app, None) when the request is genuine, else (app or None, Problem).

    The order of checks is the one an OAuth provider follows: presence, consumer, method,
    timestamp, token, signature. The nonce is checked by the caller, after the signature,
    so that forged requests cannot use up nonces.
    """
    absent = [name for name in REQUIRED if not params.get(name)]
    if absent:
        return None, Problem("parameter_absent", {"names": "&".join(absent)})
    app = apps.get(params["oauth_consumer_key"])
    if app is None:
        return None, Problem("consumer_key_unknown", {})
    if params["oauth_signature_method"] != "RSA-SHA1":
        return app, Problem("signature_method_rejected", {})
    if app.public_key_pem is None:
        return app, Problem("no_certificate", {})
    low, high = int(now) - TIMESTAMP_WINDOW, int(now) + TIMESTAMP_WINDOW
    timestamp = params["oauth_timestamp"]
    if not timestamp.isdigit() or not low <= int(timestamp) <= high:
        name = "timestamp_in_future" if timestamp.isdigit() and int(timestamp) > high else None
        return app, Problem(name or "timestamp_refused", {"acceptable": f"{low}-{high}"})
    if params.get("oauth_token") != app.consumer_key:
        return app, Problem("token_rejected", {})
    if not _signature_valid(method, uri, headers, body, params, app.public_key_pem):
        return app, Problem("signature_invalid", {})
    return app, None


def _signature_valid(method, uri, headers, body, params, public_key) -> bool:
    form_body = (
        body
        if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        else None
    )
    collected = signature.collect_parameters(
        uri_query=urlsplit(uri).query,
        body=form_body,
        headers={"Authorization": headers["Authorization"]} if "Authorization" in headers else None,
        exclude_oauth_signature=True,
    )
    request = SimpleNamespace(
        params=collected,
        uri=uri,
        http_method=method,
        signature=params["oauth_signature"],
    )
    try:
        return signature.verify_rsa_sha1(request, public_key)
    except (ValueError, TypeError):
        return False
