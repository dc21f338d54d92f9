"""xero/connection/custom_connection.py against the fake Xero: its token, cached and renewed."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from xero import exceptions
from xero.connection import CustomConnection, xero_session
from xero.models import AccessToken
from xero.services import connection_test_run


def organisation_url(settings):
    return settings.XERO_API_URL + "Organisation"


def test_custom_connection_token_is_cached_encrypted_and_reused(custom_site, fake_xero, settings):
    for _ in range(3):
        xero_session(custom_site).get_json(organisation_url(settings))
    token_calls = [call for call in fake_xero.calls if call.path == "/connect/token"]
    assert len(token_calls) == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT access_token FROM {AccessToken._meta.db_table}")
        stored = cursor.fetchone()[0]
    cached = AccessToken.objects.get().access_token
    assert stored.startswith("gAAAA") and cached not in stored


def test_custom_connection_token_is_renewed_near_its_expiry(custom_site, fake_xero, settings):
    xero_session(custom_site).get_json(organisation_url(settings))
    AccessToken.objects.update(expires_at=timezone.now() + datetime.timedelta(seconds=30))
    xero_session(custom_site).get_json(organisation_url(settings))
    assert sum(call.path == "/connect/token" for call in fake_xero.calls) == 2


def test_a_token_xero_calls_expired_is_renewed_once_and_the_call_retried(
    custom_site, fake_xero, settings
):
    xero_session(custom_site).get_json(organisation_url(settings))
    fake_xero.expire_tokens()
    body = xero_session(custom_site).get_json(organisation_url(settings))
    assert body["Organisations"]
    assert sum(call.path == "/connect/token" for call in fake_xero.calls) == 2


def test_a_changed_client_secret_is_not_hidden_by_the_cached_token(custom_site, settings):
    xero_session(custom_site).get_json(organisation_url(settings))
    custom_site.api_secret = "a-different-secret-0123456789"
    with pytest.raises(exceptions.InvalidClient):
        xero_session(custom_site)


def test_an_unknown_bearer_token_is_renewed_once_as_rfc_6750_says(custom_site, fake_xero, settings):
    xero_session(custom_site)
    AccessToken.objects.update(access_token="not-a-token-xero-issued")
    # Xero answers 401 with WWW-Authenticate: Bearer error="invalid_token": a new token.
    xero_session(custom_site).get_json(organisation_url(settings))
    assert sum(call.path == "/connect/token" for call in fake_xero.calls) == 2


def test_a_bearer_token_rejected_again_after_renewing_is_token_rejected(
    custom_site, fake_xero, settings
):
    fake_xero.fail_next("token_rejected", count=2)
    with pytest.raises(exceptions.TokenRejected) as error:
        xero_session(custom_site).get_json(organisation_url(settings))
    assert error.value.http_status == 401


def test_the_token_expires_by_the_clock_the_test_was_given(custom_site, fake_xero, settings):
    settings.XERO_TEST_COOLDOWN = 0
    then = timezone.now() - datetime.timedelta(days=2)
    connection_test_run(site=custom_site, now=then)
    # Xero's tokens last 30 minutes from the test's own clock, not the wall clock.
    assert AccessToken.objects.get().expires_at == then + datetime.timedelta(minutes=30)


def test_a_custom_connection_asks_for_its_organisations_before_the_organisation(
    custom_site, fake_xero
):
    conversation = CustomConnection(custom_site)
    conversation.open()
    conversation.organisation()
    assert [call.path for call in fake_xero.calls] == [
        "/connect/token", "/connections", "/api.xro/2.0/Organisation"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("token", "lifetime"),
    [
        ({}, datetime.timedelta(minutes=30)),
        ({"expires_in": "1800"}, datetime.timedelta(minutes=30)),
        ({"expires_in": 1800.0}, datetime.timedelta(minutes=30)),
        ({"expires_in": 86_400}, datetime.timedelta(days=1)),
        ({"expires_in": 1}, datetime.timedelta(seconds=1)),
    ],
)
def test_a_token_lifetime_that_is_a_whole_number_of_seconds_up_to_a_day_is_kept(
    custom_site, fake_xero, token, lifetime
):
    # No expires_in at all (RFC 6749 only recommends it) is Xero's 30 minutes.
    fake_xero.fail_next("odd_token", token=token, drop=[] if token else ["expires_in"])
    now = timezone.now()

    test = connection_test_run(site=custom_site, now=now)

    assert test.passed, test.message
    assert AccessToken.objects.get().expires_at == now + lifetime
