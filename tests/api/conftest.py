"""Fixtures of the API's tests: credentials made through the service, and a client that
sends one as a Bearer header."""

import pytest

from api import credentials

# The fake Xero and its Sites, shared with the Xero app's tests.
from tests.xero.conftest import (  # noqa: F401
    connected_site,
    custom_site,
    fake_xero,
    fake_xero_settings,
    private_site,
    web_app_xero,
    web_site,
)


@pytest.fixture
def make_credential(db):
    """``make_credential(*scopes, sites=[codes], days=None)`` → (credential, secret)."""

    def make_credential(*scopes: str, sites=(), days=None, name="Interconnect"):
        issued = credentials.credential_create(
            name=name,
            scopes=list(scopes or ("status", "credentials")),
            site_codes=list(sites),
            days=days,
        )
        return issued.credential, issued.secret

    return make_credential


@pytest.fixture
def api_client(client):
    """``api_client(secret)``: the test client with ``Authorization: Bearer <secret>``."""

    def api_client(secret: str):
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        return client

    return api_client
