"""POST .../xero/access-token and .../xero/sign against the fake Xero: cached tokens,
refreshes, reconnect_needed, signatures the fake verifies, and the aggregated audit."""

import datetime

import pytest
import requests
from django.utils import timezone

from api.models import HandOut
from sites.models import AuditEntry
from tests.conftest import audit_rows_text
from tests.xero.connecting import expire
from xero.models import AccessToken, ConnectionTest, TokenSet


@pytest.fixture
def credentials_client(make_credential, api_client):
    _, secret = make_credential("status", "credentials")
    return api_client(secret)


def test_a_custom_connection_gets_a_token_that_works_at_xero_and_it_is_cached(
    credentials_client, custom_site, fake_xero_settings
):
    first = credentials_client.post("/api/v1/sites/custom/xero/access-token")
    second = credentials_client.post("/api/v1/sites/custom/xero/access-token")

    body = first.json()
    assert first.status_code == 200, body
    assert body["token_type"] == "Bearer" and body["tenant_id"] is None
    assert second.json()["access_token"] == body["access_token"]
    assert fake_xero_settings.issued_tokens == [body["access_token"]]
    organisation = requests.get(
        fake_xero_settings.api_url + "Organisation",
        headers={"Authorization": f"Bearer {body['access_token']}", "Accept": "application/json"},
        timeout=5,
    )
    assert organisation.status_code == 200


def test_a_custom_connection_token_near_its_end_is_renewed_first(
    credentials_client, custom_site, fake_xero_settings, settings
):
    old = credentials_client.post("/api/v1/sites/custom/xero/access-token").json()
    # Four minutes left: more than the connection test's margin, less than the API's.
    AccessToken.objects.update(expires_at=timezone.now() + datetime.timedelta(minutes=4))

    new = credentials_client.post("/api/v1/sites/custom/xero/access-token").json()

    assert new["access_token"] != old["access_token"]
    assert datetime.datetime.fromisoformat(new["expires_at"]) > timezone.now() + datetime.timedelta(
        seconds=settings.API_ACCESS_TOKEN_MARGIN
    )


def test_a_connect_to_xero_site_gets_its_token_set_token_with_tenant_and_scopes(
    credentials_client, connected_site, web_app_xero
):
    token_set = TokenSet.objects.get()

    body = credentials_client.post("/api/v1/sites/webby/xero/access-token").json()

    assert body["access_token"] == token_set.access_token
    assert body["tenant_id"] == web_app_xero.acme.tenant_id
    assert "offline_access" in body["scopes"]
    assert web_app_xero.refresh_count == 0


def test_an_expired_token_set_is_refreshed_once_and_rotated(
    credentials_client, connected_site, web_app_xero
):
    before = TokenSet.objects.get()
    expire(web_app_xero)

    body = credentials_client.post("/api/v1/sites/webby/xero/access-token").json()

    stored = TokenSet.objects.get()
    assert web_app_xero.refresh_count == 1
    assert body["access_token"] == stored.access_token != before.access_token
    assert stored.refresh_token != before.refresh_token


def test_invalid_grant_answers_409_reconnect_needed_and_the_site_fails_like_a_test(
    credentials_client, connected_site, web_app_xero, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    expire(web_app_xero)
    web_app_xero.fail_next("invalid_grant")

    response = credentials_client.post("/api/v1/sites/webby/xero/access-token")

    assert response.status_code == 409
    assert response.json()["code"] == "reconnect_needed"
    assert "Connect to Xero" in response.json()["message"]
    test = ConnectionTest.objects.get(site=connected_site)
    assert test.outcome == "reconnect_needed"
    status = credentials_client.get("/api/v1/sites/webby/").json()
    assert status["state"] == "failing" and status["last_test"]["outcome"] == "reconnect_needed"
    again = credentials_client.post("/api/v1/sites/webby/xero/access-token")
    assert again.status_code == 409 and web_app_xero.refresh_count == 0


def test_a_not_connected_site_and_a_private_app_get_409_with_the_reason(
    credentials_client, web_site, site
):
    not_connected = credentials_client.post("/api/v1/sites/webby/xero/access-token")
    private = credentials_client.post("/api/v1/sites/acme/xero/access-token")

    assert not_connected.status_code == 409
    assert not_connected.json()["code"] == "not_connected"
    assert private.status_code == 409 and private.json()["code"] == "wrong_connection_type"


def test_xero_out_of_reach_is_502_with_its_outcome(credentials_client, custom_site, settings):
    settings.XERO_IDENTITY_URL = "http://127.0.0.1:9/connect/token"

    response = credentials_client.post("/api/v1/sites/custom/xero/access-token")

    assert response.status_code == 502 and response.json()["code"] == "unreachable"


def _sign(client, url, method="GET"):
    return client.post(
        "/api/v1/sites/acme/xero/sign",
        {"method": method, "url": url},
        content_type="application/json",
    )


def test_a_private_app_gets_a_signed_header_the_fake_xero_accepts(
    credentials_client, private_site, fake_xero_settings
):
    url = fake_xero_settings.api_url + "Organisation"

    response = _sign(credentials_client, url)

    header = response.json()["authorization"]
    assert response.status_code == 200 and header.startswith("OAuth ")
    assert 'oauth_signature_method="RSA-SHA1"' in header
    answer = requests.get(
        url, headers={"Authorization": header, "Accept": "application/json"}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    payroll = fake_xero_settings.payroll_url + "Settings?page=1"
    assert _sign(credentials_client, payroll).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/api.xro/2.0/Organisation",
        "{api}../../identity/connect/token",
        "{api}%2e%2e/secret",
        "{host}/connect/token",
        "{api_no_slash}xro-but-not-under-it",
        "file:///etc/passwd",
        "",
    ],
)
def test_only_urls_under_the_xero_bases_are_signed(
    credentials_client, private_site, fake_xero_settings, url
):
    api = fake_xero_settings.api_url
    url = url.format(api=api, api_no_slash=api.rstrip("/"), host=api.split("/api.xro")[0])

    response = _sign(credentials_client, url)

    assert response.status_code == 422, response.json()
    assert response.json()["code"] in ("url_not_allowed", "invalid")
    assert not HandOut.objects.exists()


def test_signing_needs_a_private_app_with_an_active_certificate(
    credentials_client, site, custom_site, settings
):
    url = settings.XERO_API_URL + "Organisation"
    no_certificate = _sign(credentials_client, url)
    custom = credentials_client.post(
        "/api/v1/sites/custom/xero/sign",
        {"method": "GET", "url": url},
        content_type="application/json",
    )

    assert no_certificate.status_code == 409
    assert no_certificate.json()["code"] == "certificate_missing"
    assert custom.status_code == 409 and custom.json()["code"] == "wrong_connection_type"


def test_hand_outs_are_audited_one_row_per_credential_site_and_hour_with_a_count(
    credentials_client, custom_site, private_site, fake_xero_settings, one_clock_hour
):
    tokens = [
        credentials_client.post("/api/v1/sites/custom/xero/access-token").json()["access_token"]
        for _ in range(3)
    ]
    _sign(credentials_client, fake_xero_settings.api_url + "Organisation")

    rows = AuditEntry.objects.filter(kind="api_handout").order_by("site_code")
    assert [row.site_code for row in rows] == ["acme", "custom"]
    counts = {(h.site.code, h.kind): h.count for h in HandOut.objects.select_related("site")}
    assert counts == {("custom", "access_token"): 3, ("acme", "signature"): 1}
    assert "Interconnect" in rows[1].summary
    text = audit_rows_text()
    assert all(token not in text for token in tokens)
