"""Failure injection: every kind answers the way Xero does when that goes wrong."""

import time

import pytest
import requests

from xero.sandbox import FAILURE_KINDS, webapp

from .conftest import CLIENT_ID, CLIENT_SECRET, bearer_get


@pytest.fixture
def get(fake_xero, token):
    def get():
        return bearer_get(fake_xero.api_url + "Organisation", token)

    return get


def test_failures_cover_every_documented_kind():
    assert {
        "unavailable",
        "server_error",
        "rate_limit_minute",
        "rate_limit_day",
        "rate_limit_oauth1",
        "forbidden",
        "insufficient_scope",
        "html_body",
        "xml_body",
        "slow",
        "token_error",
        "drop",
    } | set(webapp.FAILURE_KINDS) == FAILURE_KINDS


def test_unknown_failure_kind_is_refused(fake_xero):
    with pytest.raises(ValueError, match="Unknown failure kind"):
        fake_xero.fail_next("gremlins")


def test_unavailable_is_503_maintenance_text(fake_xero, get):
    fake_xero.fail_next("unavailable")

    response = get()

    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "The Xero API is currently offline for maintenance"


def test_failure_is_consumed_so_the_next_call_succeeds(fake_xero, get):
    fake_xero.fail_next("unavailable")

    assert [get().status_code, get().status_code] == [503, 200]


def test_count_fails_that_many_calls(fake_xero, get):
    fake_xero.fail_next("server_error", count=2)

    assert [get().status_code for _ in range(3)] == [500, 500, 200]


def test_server_error_is_500_problem_json(fake_xero, get):
    fake_xero.fail_next("server_error")

    response = get()

    assert response.status_code == 500
    assert response.json()["Status"] == 500


def test_rate_limit_minute_is_429_with_retry_after(fake_xero, get):
    fake_xero.fail_next("rate_limit_minute")
    fake_xero.fail_next("rate_limit_minute", retry_after=7)

    first, second = get(), get()

    assert first.status_code == 429
    assert first.headers["Retry-After"] == "30"
    assert first.headers["X-Rate-Limit-Problem"] == "minute"
    assert second.headers["Retry-After"] == "7"


def test_rate_limit_day_is_429_naming_the_day_limit(fake_xero, get):
    fake_xero.fail_next("rate_limit_day")

    response = get()

    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Problem"] == "day"
    assert int(response.headers["Retry-After"]) > 0


def test_rate_limit_oauth1_is_503_oauth_problem(fake_xero, get):
    fake_xero.fail_next("rate_limit_oauth1")

    response = get()

    assert response.status_code == 503
    assert response.text == (
        "oauth_problem=rate%20limit%20exceeded"
        "&oauth_problem_advice=please%20wait%20before%20retrying%20the%20xero%20api"
    )
    assert response.headers["X-Rate-Limit-Problem"] == "minute"


def test_forbidden_is_403_authentication_unsuccessful(fake_xero, get):
    fake_xero.fail_next("forbidden")

    response = get()

    assert response.status_code == 403
    assert response.json()["Title"] == "Forbidden"
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"


def test_insufficient_scope_failure_is_401_with_www_authenticate(fake_xero, get):
    fake_xero.fail_next("insufficient_scope")

    response = get()

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'


def test_html_body_is_200_login_page(fake_xero, get):
    fake_xero.fail_next("html_body")

    response = get()

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Login | Xero" in response.text


def test_xml_body_answers_xml_although_json_was_asked(fake_xero, get):
    fake_xero.fail_next("xml_body")

    response = get()

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    assert response.text.startswith("<Response")


def test_slow_answers_late_enough_to_trip_a_read_timeout(fake_xero, token):
    fake_xero.fail_next("slow", seconds=0.5)

    with pytest.raises(requests.ReadTimeout):
        requests.get(
            fake_xero.api_url + "Organisation",
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.2,
        )


def test_slow_still_answers_a_patient_client(fake_xero, get):
    fake_xero.fail_next("slow", seconds=0.2)
    started = time.monotonic()

    response = get()

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_drop_closes_the_connection_without_an_answer(fake_xero, get):
    fake_xero.fail_next("drop")

    with pytest.raises(requests.ConnectionError):
        get()
    assert fake_xero.calls[-1].status is None
    assert get().status_code == 200


def test_token_error_fails_the_token_endpoint_not_api_calls(fake_xero, custom_connection):
    fake_xero.fail_next("token_error")
    fake_xero.fail_next("unavailable")

    def post():
        return requests.post(
            fake_xero.identity_url,
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
            timeout=5,
        )

    failed = post()
    token = post().json()["access_token"]

    assert failed.status_code == 500
    assert bearer_get(fake_xero.api_url + "Organisation", token).status_code == 503


def test_token_calls_do_not_consume_api_failures(fake_xero, custom_connection, get):
    fake_xero.fail_next("forbidden")

    assert get().status_code == 403


def test_failures_work_for_oauth1_private_apps_too(fake_xero, signed):
    fake_xero.fail_next("rate_limit_oauth1")

    response = signed(fake_xero.api_url + "Organisation")

    assert response.status_code == 503
    assert "rate%20limit%20exceeded" in response.text


def test_failures_apply_to_payroll_calls(fake_xero, token):
    fake_xero.fail_next("unavailable")

    assert bearer_get(fake_xero.payroll_url + "PayItems", token).status_code == 503
