"""Disconnecting from Xero needs a fresh second factor (warehouse/sudo.py); the other
dangerous actions are in tests/accounts/test_sudo.py."""

import pytest

from tests.sudo import ASKED, answer, make_stale
from xero.models import TenantBinding

from .connecting import connect

pytestmark = pytest.mark.django_db


def test_disconnecting_with_a_stale_second_factor_asks_then_disconnects(
    client_for, web_site, web_app_xero
):
    client = client_for("admins")
    connect(client, web_app_xero, web_site, web_app_xero.acme)
    make_stale(client)
    url = f"/sites/{web_site.code}/xero/disconnect/"

    asked = client.post(url)

    assert ASKED in asked.text and TenantBinding.objects.filter(site=web_site).exists()
    done = answer(client, asked.text, user=client.user)
    assert done.status_code == 302
    assert not TenantBinding.objects.filter(site=web_site).exists()


def test_disconnecting_with_a_fresh_second_factor_goes_straight_through(
    client_for, web_site, web_app_xero
):
    client = client_for("admins")
    connect(client, web_app_xero, web_site, web_app_xero.acme)

    response = client.post(f"/sites/{web_site.code}/xero/disconnect/")

    assert response.status_code == 302 and ASKED not in response.text
    assert not TenantBinding.objects.filter(site=web_site).exists()
