"""Fixtures for everything that talks to Xero: a fake Xero over real HTTP."""

import pytest

from xero.sandbox import FakeXero


@pytest.fixture
def fake_xero():
    """A started fake Xero on a free port, stopped after the test."""
    with FakeXero(port=0) as fake:
        yield fake


@pytest.fixture
def fake_xero_settings(fake_xero, settings):
    """Point the XERO_*_URL settings at ``fake_xero``; returns the fake."""
    settings.XERO_API_URL = fake_xero.api_url
    settings.XERO_PAYROLL_URL = fake_xero.payroll_url
    settings.XERO_IDENTITY_URL = fake_xero.identity_url
    settings.XERO_CONNECTIONS_URL = fake_xero.connections_url
    return fake_xero
