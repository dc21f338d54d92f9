"""The fake identity server enforces what a conforming OAuth 2.0 / OpenID Connect server
enforces (issue 26): form-encoded Basic client credentials (RFC 6749 §2.3.1)."""

import base64

import pytest
import requests

from .conftest import CLIENT_ID, bearer_get


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
