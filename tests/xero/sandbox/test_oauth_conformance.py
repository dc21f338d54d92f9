"""The fake identity server enforces what a conforming OAuth 2.0 / OpenID Connect server
enforces (issue 26): form-encoded Basic client credentials (RFC 6749 §2.3.1), the
invalid_token challenge (RFC 6750 §3.1), a signed id_token with a published JWK Set and
the nonce echoed (OpenID Connect Core), revocation of a replaced consent (RFC 7009)."""

import base64

import pytest
import requests

from .conftest import CLIENT_ID, bearer_get
from .test_webapp import (
    REDIRECT_URI,
    WEB_CLIENT_ID,
    WEB_CLIENT_SECRET,
    authorize,
    connect,
    consent,
    exchange,
    redirected,
    refresh,
)


@pytest.fixture
def web_app(fake_xero):
    """The web app and two organisations, as in test_webapp.py."""
    fake_xero.register_web_app(WEB_CLIENT_ID, WEB_CLIENT_SECRET, REDIRECT_URI)
    return fake_xero.add_user_organisation("Acme Pty Ltd"), fake_xero.add_user_organisation(
        "Beta Holdings"
    )


@pytest.fixture
def get(fake_xero, token):
    def get():
        return bearer_get(fake_xero.api_url + "Organisation", token)

    return get


ODD_SECRET = "Se+cr%et:42/=~odd+secret%2B"


def basic(client_id: str, secret: str) -> dict:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_basic_credentials_are_form_decoded_as_a_conforming_server_does(fake_xero):
    from urllib.parse import quote_plus

    fake_xero.register_custom_connection(CLIENT_ID, ODD_SECRET)
    form = {"grant_type": "client_credentials"}

    raw = requests.post(
        fake_xero.identity_url, data=form, headers=basic(CLIENT_ID, ODD_SECRET), timeout=5
    )
    encoded = requests.post(
        fake_xero.identity_url,
        data=form,
        headers=basic(quote_plus(CLIENT_ID, safe=""), quote_plus(ODD_SECRET, safe="")),
        timeout=5,
    )

    assert raw.status_code == 400 and raw.json() == {"error": "invalid_client"}
    assert encoded.status_code == 200, encoded.text


def test_token_rejected_answers_401_with_the_rfc_6750_invalid_token_challenge(get, fake_xero):
    fake_xero.fail_next("token_rejected")

    response = get()

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


# OpenID Connect: a signed id_token, a published JWK Set, the nonce echoed.


def test_the_id_token_is_signed_rs256_by_a_published_key_and_echoes_the_nonce(fake_xero, web_app):
    import jwt

    page = authorize(fake_xero, nonce="n-0123456789")
    code = redirected(consent(fake_xero, page, web_app[0]))["code"]
    answer = exchange(fake_xero, code).json()
    keys = jwt.PyJWKSet.from_dict(requests.get(fake_xero.jwks_url, timeout=5).json())

    claims = jwt.decode(
        answer["id_token"],
        keys.keys[0].key,
        algorithms=["RS256"],
        audience=WEB_CLIENT_ID,
        issuer="https://identity.xero.com",
    )

    assert claims["nonce"] == "n-0123456789"
    assert jwt.get_unverified_header(answer["id_token"])["kid"] == keys.keys[0].key_id


def test_revoking_a_replaced_consent_keeps_the_newer_consents_connections(fake_xero, web_app):
    first = connect(fake_xero, web_app[0])
    second = connect(fake_xero, web_app[0])

    revoked = requests.post(
        fake_xero.revocation_url,
        auth=(WEB_CLIENT_ID, WEB_CLIENT_SECRET),
        data={"token": first["refresh_token"]},
        timeout=5,
    )

    assert revoked.status_code == 200
    assert refresh(fake_xero, first["refresh_token"]).json() == {"error": "invalid_grant"}
    assert refresh(fake_xero, second["refresh_token"]).status_code == 200
    assert [c.organisation.Name for c in fake_xero.web_connections(WEB_CLIENT_ID)] == [
        "Acme Pty Ltd"
    ]
