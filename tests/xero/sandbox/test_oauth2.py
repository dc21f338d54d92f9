"""OAuth 2.0 custom connections: the token endpoint, bearer calls and /connections."""

import base64
import json
import uuid

import requests

from .conftest import CLIENT_ID, CLIENT_SECRET, bearer_get, token_for


def post_token(fake, data, auth=(CLIENT_ID, CLIENT_SECRET)):
    return requests.post(fake.identity_url, auth=auth, data=data, timeout=5)


def test_client_credentials_with_basic_auth_issues_a_30_minute_bearer_token(
    fake_xero, custom_connection
):
    response = post_token(fake_xero, {"grant_type": "client_credentials"})

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["scope"] == "accounting.settings.read payroll.employees.read payroll.settings.read"
    claims = body["access_token"].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(claims + "=="))["client_id"] == CLIENT_ID


def test_client_credentials_in_the_form_body_are_accepted(fake_xero, custom_connection):
    response = post_token(
        fake_xero,
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        auth=None,
    )

    assert response.status_code == 200


def test_requested_scope_narrows_the_token(fake_xero, custom_connection):
    response = post_token(
        fake_xero, {"grant_type": "client_credentials", "scope": "accounting.settings.read"}
    )

    assert response.json()["scope"] == "accounting.settings.read"


def test_wrong_secret_is_invalid_client(fake_xero, custom_connection):
    response = post_token(
        fake_xero, {"grant_type": "client_credentials"}, auth=(CLIENT_ID, "wrong")
    )

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


def test_unknown_client_is_invalid_client(fake_xero, custom_connection):
    response = post_token(fake_xero, {"grant_type": "client_credentials"}, auth=("nobody", "x"))

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


def test_other_grant_type_is_unsupported_grant_type(fake_xero, custom_connection):
    response = post_token(fake_xero, {"grant_type": "authorization_code", "code": "x"})

    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


def test_scope_the_connection_lacks_is_invalid_scope(fake_xero, custom_connection):
    response = post_token(
        fake_xero, {"grant_type": "client_credentials", "scope": "accounting.transactions"}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_scope"}


def test_bearer_token_reads_the_organisation_without_a_tenant_header(fake_xero, token):
    response = bearer_get(fake_xero.api_url + "Organisation", token)

    assert response.status_code == 200
    assert response.json()["Organisations"][0]["Name"] == "Demo Company (AU)"


def test_bearer_token_reads_payroll_pay_items(fake_xero, token):
    response = bearer_get(fake_xero.payroll_url + "PayItems", token)

    assert response.status_code == 200
    assert "EarningsRates" in response.json()["PayItems"]


def test_unknown_token_is_401_invalid_token_with_xero_problem_body(fake_xero, token):
    response = bearer_get(fake_xero.api_url + "Organisation", "not-a-token")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    body = response.json()
    assert {k: body[k] for k in ("Type", "Title", "Status", "Detail", "Extensions")} == {
        "Type": None,
        "Title": "Unauthorized",
        "Status": 401,
        "Detail": "AuthenticationUnsuccessful",
        "Extensions": {},
    }
    uuid.UUID(body["Instance"])


def test_expired_token_is_401_token_expired(fake_xero, token):
    fake_xero.expire_tokens()

    response = bearer_get(fake_xero.api_url + "Organisation", token)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["Detail"].startswith("TokenExpired: token expired at ")


def test_token_expires_after_30_minutes_on_the_fakes_clock(fake_xero, token):
    fake_xero.clock_offset = 1801

    response = bearer_get(fake_xero.api_url + "Organisation", token)

    assert response.json()["Detail"].startswith("TokenExpired")


def test_a_new_token_works_after_expiry(fake_xero, token):
    fake_xero.expire_tokens()

    fresh = token_for(fake_xero)

    assert bearer_get(fake_xero.api_url + "Organisation", fresh).status_code == 200


def test_payroll_without_payroll_scope_is_401_insufficient_scope(fake_xero):
    fake_xero.register_custom_connection(CLIENT_ID, CLIENT_SECRET, payroll_enabled=False)
    token = token_for(fake_xero)

    response = bearer_get(fake_xero.payroll_url + "PayItems", token)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert response.json()["Detail"] == "AuthorizationUnsuccessful"
    assert bearer_get(fake_xero.api_url + "Organisation", token).status_code == 200


def test_token_narrowed_to_accounting_cannot_read_payroll(fake_xero, custom_connection):
    token = token_for(fake_xero, scope="accounting.settings.read")

    response = bearer_get(fake_xero.payroll_url + "Settings", token)

    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'


def test_tenant_header_of_another_organisation_is_403(fake_xero, token):
    response = bearer_get(
        fake_xero.api_url + "Organisation",
        token,
        {"Accept": "application/json", "Xero-Tenant-Id": str(uuid.uuid4())},
    )

    assert response.status_code == 403
    assert response.json()["Detail"] == "AuthenticationUnsuccessful"


def test_connections_lists_the_one_organisation(fake_xero, custom_connection, token):
    response = bearer_get(fake_xero.connections_url, token)

    assert response.status_code == 200
    (connection,) = response.json()
    assert connection["tenantId"] == custom_connection.OrganisationID
    assert connection["tenantType"] == "ORGANISATION"
    assert connection["tenantName"] == "Demo Company (AU)"
    assert set(connection) == {
        "id",
        "authEventId",
        "tenantId",
        "tenantType",
        "tenantName",
        "createdDateUtc",
        "updatedDateUtc",
    }


def test_connections_with_unknown_token_is_401(fake_xero, custom_connection):
    assert bearer_get(fake_xero.connections_url, "nope").status_code == 401


def test_calls_record_the_client_id(fake_xero, token):
    bearer_get(fake_xero.api_url + "Organisation", token)

    assert [(c.path, c.client_id, c.status) for c in fake_xero.calls] == [
        ("/connect/token", CLIENT_ID, 200),
        ("/api.xro/2.0/Organisation", CLIENT_ID, 200),
    ]
