"""Failure injection: every kind answers the way Xero does when that goes wrong."""

import gzip
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
        "drip",
        "redirect",
        "slow_redirects",
        "huge",
        "gzip_bomb",
        "odd_types",
        "nul",
        "odd_token",
        "token_rejected",
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


def raw_get(fake, token, **kwargs):
    """GET the Organisation without following redirects or reading the body yet."""
    return requests.get(
        fake.api_url + "Organisation",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        allow_redirects=False,
        stream=True,
        timeout=5,
        **kwargs,
    )


def test_drip_sends_the_answer_one_byte_at_a_time_with_its_length(fake_xero, token):
    fake_xero.fail_next("drip", interval=0.05)

    response = raw_get(fake_xero, token)
    first, second = response.raw.read(1), response.raw.read(1)
    response.close()

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 100
    assert (first, second) == (b"{", b'"')


def test_drip_with_a_status_and_location_is_a_dripping_redirect(fake_xero, token):
    fake_xero.fail_next("drip", interval=0.05, status=302, location="http://127.0.0.2:9/")

    response = raw_get(fake_xero, token)
    response.close()

    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.2:9/"


def test_redirect_points_at_another_address(fake_xero, token):
    fake_xero.fail_next("redirect", location="http://127.0.0.2:9/elsewhere")

    response = raw_get(fake_xero, token)

    assert response.status_code == 302
    assert response.headers["Location"] == "http://127.0.0.2:9/elsewhere"


def test_slow_redirects_wait_then_point_back_at_the_same_address(fake_xero, token):
    fake_xero.fail_next("slow_redirects", count=2, seconds=0.2)
    started = time.monotonic()

    first = raw_get(fake_xero, token)
    second = raw_get(fake_xero, token)

    assert time.monotonic() - started >= 0.4
    assert [first.status_code, second.status_code] == [302, 302]
    assert first.headers["Location"] == fake_xero.api_url + "Organisation"


def test_huge_streams_a_body_of_the_size_asked(fake_xero, token):
    fake_xero.fail_next("huge", size=3 << 20)

    response = raw_get(fake_xero, token)
    received = sum(len(chunk) for chunk in response.iter_content(1 << 16))

    assert int(response.headers["Content-Length"]) == received == 3 << 20


def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_the_size_asked(fake_xero, token):
    fake_xero.fail_next("gzip_bomb", size=8 << 20)

    response = raw_get(fake_xero, token)
    wire = response.raw.read(decode_content=False)

    assert response.headers["Content-Encoding"] == "gzip"
    assert len(wire) < 64 << 10
    assert len(gzip.decompress(wire)) == 8 << 20


def test_odd_types_gives_fields_of_the_wrong_type_and_overflowing_limit_headers(fake_xero, get):
    fake_xero.fail_next("odd_types")

    response = get()
    organisation = response.json()["Organisations"][0]

    assert organisation["IsDemoCompany"] == "yes"
    assert isinstance(organisation["ShortCode"], list)
    assert int(response.headers["X-MinLimit-Remaining"]) == 10**23


def token_answer(fake):
    return requests.post(
        fake.identity_url,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()


def test_odd_token_gives_a_lifetime_no_datetime_holds_in_the_next_token_answer(
    fake_xero, custom_connection
):
    fake_xero.fail_next("odd_token")

    odd, usual = token_answer(fake_xero), token_answer(fake_xero)

    assert odd["expires_in"] == 10**20 and odd["access_token"]
    assert usual["expires_in"] == 1800
    assert bearer_get(fake_xero.api_url + "Organisation", odd["access_token"]).status_code == 200


def test_odd_token_puts_in_the_fields_given_and_leaves_out_those_dropped(
    fake_xero, custom_connection
):
    fake_xero.fail_next("odd_token", token={"expires_in": "1.5", "scope": {"a": 1}})
    fake_xero.fail_next("odd_token", drop=["expires_in"])

    changed, dropped = token_answer(fake_xero), token_answer(fake_xero)

    assert changed["expires_in"] == "1.5" and changed["scope"] == {"a": 1}
    assert "expires_in" not in dropped and dropped["access_token"]


def test_nul_puts_control_characters_into_the_organisation_name(fake_xero, get):
    fake_xero.fail_next("nul")

    name = get().json()["Organisations"][0]["Name"]

    assert "\x00" in name and "\n" in name and "\u202e" in name


def test_nul_in_the_body_is_a_non_json_answer_with_nul(fake_xero, get):
    fake_xero.fail_next("nul", where="body")

    response = get()

    assert response.headers["Content-Type"].startswith("text/plain")
    assert "\x00" in response.text


def test_huge_without_declaring_its_length_ends_by_closing(fake_xero, token):
    fake_xero.fail_next("huge", size=2 << 20, declare_length=False)

    response = raw_get(fake_xero, token)
    received = sum(len(chunk) for chunk in response.iter_content(1 << 16))

    assert "Content-Length" not in response.headers
    assert received == 2 << 20
