"""Hostile input to the API: every refusal is a clear JSON error, never a 500 or a page."""

import pytest


@pytest.fixture
def client_with_credential(make_credential, api_client, site):
    _, secret = make_credential("status", "credentials")
    return api_client(secret)


SIGN = "/api/v1/sites/acme/xero/sign"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "body_malformed"),
        ("", 422, "invalid"),
        ("\x00\xff", 400, "body_malformed"),
        ("[]", 422, "invalid"),
        ('"GET"', 422, "invalid"),
        ('{"method": 1, "url": []}', 422, "invalid"),
        ('{"method": "PATCH", "url": "https://x"}', 422, "invalid"),
        ('{"method": "GET"}', 422, "invalid"),
        ('{"method": "GET", "url": "https://x", "extra": 1}', 422, "invalid"),
        ('{"method": "GET", "url": "' + "a" * 3000 + '"}', 422, "invalid"),
    ],
)
def test_malformed_or_mistyped_bodies_get_a_json_error(client_with_credential, body, status, code):
    response = client_with_credential.post(SIGN, body, content_type="application/json")

    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == code and response.json()["message"]


def test_a_huge_body_is_refused_before_it_is_read(client_with_credential, settings):
    body = '{"method": "GET", "url": "' + "a" * (settings.API_MAX_BODY_BYTES + 1) + '"}'

    response = client_with_credential.post(SIGN, body, content_type="application/json")

    assert response.status_code == 413 and response.json()["code"] == "body_too_large"


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=99999999999999999999",
        "page_size=100000",
        "page=abc",
        "since=yesterday",
        "since=9999-12-31T23:59:59-14:00",
        "since=0001-01-01T00:00:00%2B14:00",
        "since=2026-01-01T00:00:00",
        "state=%00",
        "sort=name",
    ],
)
def test_odd_query_parameters_get_422(client_with_credential, query):
    response = client_with_credential.get(f"/api/v1/sites/?{query}")

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid"


def test_unknown_addresses_and_methods_under_api_answer_json(client_with_credential):
    unknown = client_with_credential.get("/api/v2/sites/")
    root = client_with_credential.get("/api/v1/")
    assert root.status_code == 404 and root.json()["code"] == "not_found"
    wrong_method = client_with_credential.delete("/api/v1/sites/acme/")

    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert wrong_method.status_code == 405


def test_a_very_long_bearer_value_is_refused_plainly(client, db):
    response = client.get("/api/v1/sites/", HTTP_AUTHORIZATION="Bearer " + "x" * 100_000)

    assert response.status_code == 401 and response.json()["code"] == "credential_invalid"
