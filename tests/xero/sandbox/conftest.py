"""Clients built directly from requests and oauthlib, independent of the app's client."""

import pytest
import requests
from oauthlib.oauth1 import SIGNATURE_RSA, Client

from .keys import key_and_certificate

CONSUMER_KEY = "QZ7KJ1M2N3B4V5C6X7Z8L9K0J1H2YC"
CLIENT_ID = "9F1E2D3C4B5A69788796A5B4C3D2E1F0"
CLIENT_SECRET = "custom-connection-secret-for-tests"
JSON = {"Accept": "application/json"}


def oauth1_client(private_pem: str, consumer_key: str = CONSUMER_KEY, **overrides) -> Client:
    """An oauthlib RSA-SHA1 client for a private app: oauth_token is the consumer key."""
    return Client(
        consumer_key,
        signature_method=SIGNATURE_RSA,
        rsa_key=private_pem,
        resource_owner_key=consumer_key,
        **overrides,
    )


def signed_get(url: str, client: Client, headers=None) -> requests.Response:
    """GET ``url`` with the OAuth 1.0a Authorization header ``client`` signs."""
    uri, signed_headers, _ = client.sign(
        url, http_method="GET", headers=dict(JSON if headers is None else headers)
    )
    return requests.get(uri, headers=signed_headers, timeout=5)


def token_for(fake, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **form) -> str:
    response = requests.post(
        fake.identity_url,
        auth=(client_id, client_secret),
        data={"grant_type": "client_credentials", **form},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer_get(url: str, token: str, headers=None) -> requests.Response:
    return requests.get(
        url,
        headers={"Authorization": f"Bearer {token}", **(JSON if headers is None else headers)},
        timeout=5,
    )


@pytest.fixture
def private_key():
    return key_and_certificate()[0]


@pytest.fixture
def private_app(fake_xero):
    """A private application registered with the default test certificate."""
    return fake_xero.register_private_app(CONSUMER_KEY, key_and_certificate()[1])


@pytest.fixture
def signed(fake_xero, private_app, private_key):
    """GET a path of the fake with a freshly signed OAuth 1.0a request."""

    def signed(url: str, headers=None, **overrides) -> requests.Response:
        return signed_get(url, oauth1_client(private_key, **overrides), headers=headers)

    return signed


@pytest.fixture
def custom_connection(fake_xero):
    return fake_xero.register_custom_connection(CLIENT_ID, CLIENT_SECRET)


@pytest.fixture
def token(fake_xero, custom_connection):
    return token_for(fake_xero)
