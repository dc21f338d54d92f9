"""The JSON control API under /_sandbox/, for browser tests and manual use."""

import requests

from .conftest import CLIENT_ID, CLIENT_SECRET, CONSUMER_KEY, bearer_get, token_for
from .keys import key_and_certificate


def control(fake, method, action, payload=None):
    return requests.request(method, f"{fake.url}/_sandbox/{action}", json=payload, timeout=5)


def test_private_app_registered_over_http_accepts_signed_calls(fake_xero, signed):
    fake_xero.reset()
    response = control(
        fake_xero,
        "POST",
        "private-apps",
        {
            "consumer_key": CONSUMER_KEY,
            "certificate_pem": key_and_certificate()[1],
            "organisation_name": "Acme Pty Ltd",
        },
    )

    assert response.status_code == 201
    assert response.json()["organisation"]["Name"] == "Acme Pty Ltd"
    organisation = signed(fake_xero.api_url + "Organisation").json()["Organisations"][0]
    assert organisation["Name"] == "Acme Pty Ltd"


def test_private_app_registered_without_payroll_is_refused_payroll(fake_xero, signed):
    fake_xero.reset()
    control(
        fake_xero,
        "POST",
        "private-apps",
        {
            "consumer_key": CONSUMER_KEY,
            "certificate_pem": key_and_certificate()[1],
            "payroll_enabled": False,
        },
    )

    assert signed(fake_xero.payroll_url + "PayItems").status_code == 401


def test_custom_connection_registered_over_http_issues_tokens(fake_xero):
    response = control(
        fake_xero,
        "POST",
        "custom-connections",
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": ["accounting.settings.read"],
        },
    )

    assert response.status_code == 201
    token = token_for(fake_xero)
    assert bearer_get(fake_xero.payroll_url + "PayItems", token).status_code == 401


def test_failures_queued_over_http_are_answered(fake_xero, token):
    response = control(fake_xero, "POST", "failures", {"kind": "rate_limit_minute", "count": 2})

    assert response.status_code == 201
    statuses = [bearer_get(fake_xero.api_url + "Organisation", token).status_code for _ in "abc"]
    assert statuses == [429, 429, 200]


def test_unknown_failure_kind_over_http_is_400(fake_xero):
    response = control(fake_xero, "POST", "failures", {"kind": "gremlins"})

    assert response.status_code == 400
    assert "Unknown failure kind" in response.json()["error"]


def test_missing_field_over_http_is_400_naming_it(fake_xero):
    response = control(fake_xero, "POST", "custom-connections", {"client_id": "x"})

    assert response.status_code == 400
    assert "client_secret" in response.json()["error"]


def test_calls_are_listed_over_http(fake_xero, token):
    bearer_get(fake_xero.api_url + "Organisation", token)

    calls = control(fake_xero, "GET", "calls").json()

    assert [(c["method"], c["path"], c["client_id"], c["status"]) for c in calls] == [
        ("POST", "/connect/token", CLIENT_ID, 200),
        ("GET", "/api.xro/2.0/Organisation", CLIENT_ID, 200),
    ]


def test_reset_over_http_forgets_connections_and_tokens(fake_xero, token):
    assert control(fake_xero, "POST", "reset").status_code == 200

    assert bearer_get(fake_xero.api_url + "Organisation", token).status_code == 401
    assert fake_xero.calls[-1].status == 401
    assert len(fake_xero.calls) == 1


def test_clock_over_http_moves_the_fakes_clock(fake_xero, token):
    response = control(fake_xero, "POST", "clock", {"offset": 3600})

    assert response.json() == {"offset": 3600.0}
    assert fake_xero.clock_offset == 3600
    detail = bearer_get(fake_xero.api_url + "Organisation", token).json()["Detail"]
    assert detail.startswith("TokenExpired")


def test_unknown_control_action_is_404(fake_xero):
    assert control(fake_xero, "POST", "nothing").status_code == 404


def test_an_outage_over_http_fails_every_call_until_ended(fake_xero, token):
    assert control(fake_xero, "POST", "outage", {"on": True}).json() == {"outage": True}
    assert bearer_get(fake_xero.api_url + "Organisation", token).status_code == 503

    control(fake_xero, "POST", "outage", {"on": False})

    assert bearer_get(fake_xero.api_url + "Organisation", token).status_code == 200


def test_an_organisation_disconnected_over_http_leaves_connections_empty(
    fake_xero, custom_connection, token
):
    tenant = bearer_get(fake_xero.connections_url, token).json()[0]["tenantId"]

    assert control(fake_xero, "POST", "disconnect", {"tenant_id": tenant}).status_code == 200

    assert bearer_get(fake_xero.connections_url, token).json() == []


def test_day_calls_spent_over_http_count_the_day_limit_down(fake_xero, custom_connection, token):
    first = bearer_get(fake_xero.api_url + "Organisation", token)
    tenant = bearer_get(fake_xero.connections_url, token).json()[0]["tenantId"]
    control(fake_xero, "POST", "day-calls", {"tenant_id": tenant, "count": 1000})

    second = bearer_get(fake_xero.api_url + "Organisation", token)

    day_left = int(first.headers["X-DayLimit-Remaining"])
    assert int(second.headers["X-DayLimit-Remaining"]) == day_left - 1001
