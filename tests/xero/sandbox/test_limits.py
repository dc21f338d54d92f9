"""Latency, concurrency counting, rate-limit headers and (opt-in) real limit enforcement."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from xero.sandbox import FakeXero

from .conftest import CLIENT_ID, CLIENT_SECRET, bearer_get, token_for


@pytest.fixture
def limited():
    """A fake that enforces Xero's limits, with one custom connection and its token."""
    with FakeXero(enforce_limits=True) as fake:
        fake.register_custom_connection(CLIENT_ID, CLIENT_SECRET)
        yield fake, token_for(fake)


def in_parallel(count, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_every_api_answer_carries_limit_headers_counting_down(fake_xero, token):
    first = bearer_get(fake_xero.api_url + "Organisation", token)
    second = bearer_get(fake_xero.payroll_url + "PayItems", token)

    assert first.headers["X-MinLimit-Remaining"] == "59"
    assert first.headers["X-DayLimit-Remaining"] == "4999"
    assert first.headers["X-AppMinLimit-Remaining"] == "9999"
    assert second.headers["X-MinLimit-Remaining"] == "58"
    assert second.headers["X-DayLimit-Remaining"] == "4998"


def test_limits_are_counted_per_organisation(fake_xero, token):
    fake_xero.register_custom_connection("other-client", "other-secret")
    other = token_for(fake_xero, client_id="other-client", client_secret="other-secret")
    bearer_get(fake_xero.api_url + "Organisation", token)

    response = bearer_get(fake_xero.api_url + "Organisation", other)

    assert response.headers["X-MinLimit-Remaining"] == "59"
    assert response.headers["X-AppMinLimit-Remaining"] == "9998"


def test_latency_delays_each_request(fake_xero, token):
    fake_xero.latency = 0.15
    started = time.monotonic()

    bearer_get(fake_xero.api_url + "Organisation", token)

    assert time.monotonic() - started >= 0.15


def test_concurrent_requests_sleep_in_parallel_and_are_counted(fake_xero, token):
    fake_xero.latency = 0.3
    started = time.monotonic()

    responses = in_parallel(5, lambda: bearer_get(fake_xero.api_url + "Organisation", token))

    assert [r.status_code for r in responses] == [200] * 5
    assert time.monotonic() - started < 1.2
    assert fake_xero.max_concurrent == 5
    organisation = responses[0].json()["Organisations"][0]
    assert fake_xero.max_concurrent_per_organisation == {organisation["OrganisationID"]: 5}


def test_sequential_requests_never_overlap(fake_xero, token):
    for _ in range(3):
        bearer_get(fake_xero.api_url + "Organisation", token)

    assert fake_xero.max_concurrent == 1


def test_limits_are_not_enforced_by_default(fake_xero, token):
    statuses = {
        bearer_get(fake_xero.api_url + "Organisation", token).status_code for _ in range(61)
    }

    assert statuses == {200}


def test_enforced_minute_limit_answers_429_after_60_calls(limited):
    fake, token = limited
    statuses = [bearer_get(fake.api_url + "Organisation", token).status_code for _ in range(60)]

    refused = bearer_get(fake.api_url + "Organisation", token)

    assert statuses == [200] * 60
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-MinLimit-Remaining"] == "0"


def test_enforced_concurrent_limit_answers_429_past_five_in_flight(limited):
    fake, token = limited
    fake.latency = 0.4

    responses = in_parallel(7, lambda: bearer_get(fake.api_url + "Organisation", token))

    refused = [r for r in responses if r.status_code == 429]
    assert len(refused) == 2
    assert {r.headers["X-Rate-Limit-Problem"] for r in refused} == {"concurrent"}
    assert max(fake.max_concurrent_per_organisation.values()) == 5
