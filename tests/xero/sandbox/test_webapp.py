"""Xero's standard web app in the fake: consent, code and refresh grants, /connections,
revocation and their failure kinds, driven with plain requests and oauthlib."""

import base64
import hashlib
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from oauthlib.oauth2 import WebApplicationClient

from xero.sandbox.webapp import REFRESH_GRACE, REFRESH_TOKEN_LIFETIME

WEB_CLIENT_ID = "6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D"
WEB_CLIENT_SECRET = "web-app-secret-for-sandbox-tests"
REDIRECT_URI = "http://127.0.0.1:9/xero/callback/"
SCOPES = "offline_access openid profile email accounting.settings.read payroll.settings.read"


@pytest.fixture
def web_app(fake_xero):
    fake_xero.register_web_app(WEB_CLIENT_ID, WEB_CLIENT_SECRET, REDIRECT_URI)
    first = fake_xero.add_user_organisation("Acme Pty Ltd")
    second = fake_xero.add_user_organisation("Beta Holdings")
    return first, second


def authorize(fake, *, verifier="v" * 50, method="S256", state="state-1", **overrides):
    # oauthlib's prepare_request_uri refuses http://, which the local fake uses.
    client = WebApplicationClient(WEB_CLIENT_ID)
    params = {
        "response_type": "code",
        "client_id": WEB_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPES,
        "state": state,
    }
    if verifier:
        params["code_challenge"] = client.create_code_challenge(verifier, method)
        params["code_challenge_method"] = method
    params.update(overrides)
    return requests.get(fake.authorize_url, params=params, allow_redirects=False, timeout=5)


def consent(fake, page, *tenants, decision="allow"):
    request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)
    form = [("request", request_id), ("decision", decision)]
    form += [("tenant", organisation.tenant_id) for organisation in tenants]
    return requests.post(fake.authorize_url, data=form, allow_redirects=False, timeout=5)


def redirected(response) -> dict:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return dict(parse_qsl(urlsplit(location).query))


def exchange(fake, code, verifier="v" * 50, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return requests.post(
        fake.identity_url, auth=(WEB_CLIENT_ID, WEB_CLIENT_SECRET), data=data, timeout=5
    )


def refresh(fake, refresh_token):
    return requests.post(
        fake.identity_url,
        auth=(WEB_CLIENT_ID, WEB_CLIENT_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=5,
    )


def connect(fake, *tenants) -> dict:
    code = redirected(consent(fake, authorize(fake), *tenants))["code"]
    response = exchange(fake, code)
    assert response.status_code == 200, response.text
    return response.json()


def claims(jwt: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))


def test_consent_page_lists_the_users_organisations_with_allow_and_cancel(fake_xero, web_app):
    page = authorize(fake_xero)

    assert page.status_code == 200
    assert "Acme Pty Ltd" in page.text and "Beta Holdings" in page.text
    assert 'value="allow"' in page.text and 'value="deny"' in page.text


def test_allowing_redirects_with_a_code_and_the_state(fake_xero, web_app):
    answer = redirected(consent(fake_xero, authorize(fake_xero), web_app[0]))

    assert answer["state"] == "state-1"
    assert answer["code"]


def test_denying_redirects_with_access_denied_and_the_state(fake_xero, web_app):
    answer = redirected(consent(fake_xero, authorize(fake_xero), decision="deny"))

    assert answer == {
        "error": "access_denied",
        "error_description": "The user denied consent",
        "state": "state-1",
    }


def test_allowing_without_an_organisation_asks_again(fake_xero, web_app):
    page = consent(fake_xero, authorize(fake_xero))

    assert page.status_code == 200
    assert "Select at least one organisation." in page.text


def test_unknown_client_or_redirect_uri_is_an_error_page_not_a_redirect(fake_xero, web_app):
    assert authorize(fake_xero, redirect_uri="http://evil.example/cb").status_code == 400
    assert authorize(fake_xero, client_id="unknown").status_code == 400


def test_authorize_without_pkce_or_with_plain_pkce_is_refused(fake_xero, web_app):
    assert redirected(authorize(fake_xero, verifier=None))["error"] == "invalid_request"
    assert redirected(authorize(fake_xero, method="plain"))["error"] == "invalid_request"


def test_code_exchange_with_the_verifier_returns_a_token_set_and_who_consented(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])

    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    assert body["refresh_token"]
    assert claims(body["id_token"])["email"] == "bookkeeper@example.com"
    assert claims(body["access_token"])["authentication_event_id"]


def test_code_exchange_with_a_wrong_or_missing_verifier_is_invalid_grant(fake_xero, web_app):
    for verifier in ("w" * 50, None):
        code = redirected(consent(fake_xero, authorize(fake_xero), web_app[0]))["code"]
        response = exchange(fake_xero, code, verifier=verifier)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"


def test_a_code_is_used_once(fake_xero, web_app):
    code = redirected(consent(fake_xero, authorize(fake_xero), web_app[0]))["code"]

    assert exchange(fake_xero, code).status_code == 200
    replay = exchange(fake_xero, code)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_an_expired_code_is_invalid_grant(fake_xero, web_app):
    code = redirected(consent(fake_xero, authorize(fake_xero), web_app[0]))["code"]
    fake_xero.clock_offset = 301

    assert exchange(fake_xero, code).json()["error"] == "invalid_grant"


def test_connections_carry_the_auth_event_and_filter_by_it(fake_xero, web_app):
    first = connect(fake_xero, web_app[0])
    second = connect(fake_xero, web_app[1])
    event = claims(second["access_token"])["authentication_event_id"]
    headers = {"Authorization": f"Bearer {second['access_token']}"}

    everything = requests.get(fake_xero.connections_url, headers=headers, timeout=5).json()
    this_consent = requests.get(
        fake_xero.connections_url, params={"authEventId": event}, headers=headers, timeout=5
    ).json()

    assert {row["tenantName"] for row in everything} == {"Acme Pty Ltd", "Beta Holdings"}
    assert [row["tenantName"] for row in this_consent] == ["Beta Holdings"]
    assert this_consent[0]["authEventId"] == event
    assert claims(first["access_token"])["authentication_event_id"] != event


def test_api_calls_need_a_connected_tenant_id(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])
    headers = {"Authorization": f"Bearer {body['access_token']}", "Accept": "application/json"}
    url = fake_xero.api_url + "Organisation"

    ok = requests.get(url, headers={**headers, "Xero-Tenant-Id": web_app[0].tenant_id}, timeout=5)
    other = requests.get(
        url, headers={**headers, "Xero-Tenant-Id": web_app[1].tenant_id}, timeout=5
    )

    assert ok.json()["Organisations"][0]["Name"] == "Acme Pty Ltd"
    assert other.status_code == 403


def test_refresh_rotates_and_the_old_token_works_only_within_the_grace(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])
    old = body["refresh_token"]

    first = refresh(fake_xero, old)
    assert first.status_code == 200
    assert first.json()["refresh_token"] != old
    assert refresh(fake_xero, old).status_code == 200  # a lost answer, retried in the grace
    fake_xero.clock_offset = REFRESH_GRACE + 1
    late = refresh(fake_xero, old)

    assert late.status_code == 400
    assert late.json() == {"error": "invalid_grant"}
    assert fake_xero.refresh_count == 2


def test_a_refresh_token_unused_for_60_days_expires(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])
    fake_xero.clock_offset = REFRESH_TOKEN_LIFETIME + 1

    assert refresh(fake_xero, body["refresh_token"]).json() == {"error": "invalid_grant"}


def test_delete_connection_removes_only_that_tenant(fake_xero, web_app):
    body = connect(fake_xero, *web_app)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    rows = requests.get(fake_xero.connections_url, headers=headers, timeout=5).json()
    acme = next(row for row in rows if row["tenantName"] == "Acme Pty Ltd")

    deleted = requests.delete(
        f"{fake_xero.connections_url}/{acme['id']}", headers=headers, timeout=5
    )
    again = requests.delete(f"{fake_xero.connections_url}/{acme['id']}", headers=headers, timeout=5)

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert [c.organisation.Name for c in fake_xero.web_connections(WEB_CLIENT_ID)] == [
        "Beta Holdings"
    ]


def test_revocation_ends_the_grant_and_its_connections(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])

    response = requests.post(
        fake_xero.revocation_url,
        auth=(WEB_CLIENT_ID, WEB_CLIENT_SECRET),
        data={"token": body["refresh_token"]},
        timeout=5,
    )

    assert response.status_code == 200
    assert len(fake_xero.revoked_grants) == 1
    assert fake_xero.web_connections(WEB_CLIENT_ID) == []
    assert refresh(fake_xero, body["refresh_token"]).json() == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    ("kind", "status", "error"),
    [("invalid_grant", 400, "invalid_grant"), ("token_error", 500, "server_error")],
)
def test_token_failure_kinds(fake_xero, web_app, kind, status, error):
    body = connect(fake_xero, web_app[0])
    fake_xero.fail_next(kind)

    response = refresh(fake_xero, body["refresh_token"])

    assert (response.status_code, response.json()["error"]) == (status, error)


def test_odd_token_changes_a_refresh_answer_whose_refresh_is_done(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])
    fake_xero.fail_next("odd_token", token={"expires_in": True})

    odd = refresh(fake_xero, body["refresh_token"]).json()

    assert odd["expires_in"] is True
    assert odd["refresh_token"] != body["refresh_token"]
    assert fake_xero.refresh_count == 1
    assert refresh(fake_xero, odd["refresh_token"]).json()["expires_in"] == 1800


def test_token_lost_performs_the_refresh_but_drops_the_answer(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])
    fake_xero.fail_next("token_lost")

    with pytest.raises(requests.ConnectionError):
        refresh(fake_xero, body["refresh_token"])

    assert fake_xero.refresh_count == 1
    assert refresh(fake_xero, body["refresh_token"]).status_code == 200  # within the grace


def test_connections_and_revocation_failure_kinds(fake_xero, web_app):
    body = connect(fake_xero, web_app[0])
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    fake_xero.fail_next("connections_error")
    fake_xero.fail_next("revocation_error")

    assert requests.get(fake_xero.connections_url, headers=headers, timeout=5).status_code == 503
    revoked = requests.post(
        fake_xero.revocation_url,
        auth=(WEB_CLIENT_ID, WEB_CLIENT_SECRET),
        data={"token": body["refresh_token"]},
        timeout=5,
    )
    assert revoked.status_code == 503


def test_consent_error_kind_redirects_with_server_error(fake_xero, web_app):
    fake_xero.fail_next("consent_error")

    assert redirected(authorize(fake_xero))["error"] == "server_error"


def test_s256_matches_rfc_7636_appendix_b():
    from xero.sandbox.webapp import s256

    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert s256(verifier) == expected.rstrip(b"=").decode()


def test_another_xero_user_signs_in_with_organisations_of_their_own(fake_xero, web_app):
    first = connect(fake_xero, web_app[0])
    fake_xero.sign_in("second@example.com", "Sam", "Second")
    other = fake_xero.add_user_organisation("Gamma Ltd")
    second = connect(fake_xero, other)

    assert claims(second["id_token"])["email"] == "second@example.com"
    assert (
        claims(second["access_token"])["xero_userid"]
        != claims(first["access_token"])["xero_userid"]
    )
    assert "Acme Pty Ltd" not in authorize(fake_xero).text


def test_each_users_token_reaches_that_users_connections_whoever_signs_in_next(fake_xero, web_app):
    first = connect(fake_xero, web_app[0])
    fake_xero.sign_in("second@example.com")
    connect(fake_xero, fake_xero.add_user_organisation("Gamma Ltd"))
    headers = {"Authorization": f"Bearer {first['access_token']}"}

    rows = requests.get(fake_xero.connections_url, headers=headers, timeout=5).json()

    assert [row["tenantName"] for row in rows] == ["Acme Pty Ltd"]


def test_control_api_registers_a_web_app_and_the_users_organisations(fake_xero):
    app = requests.post(
        f"{fake_xero.url}/_sandbox/web-apps",
        json={
            "client_id": WEB_CLIENT_ID,
            "client_secret": WEB_CLIENT_SECRET,
            "redirect_uri": REDIRECT_URI,
        },
        timeout=5,
    )
    organisation = requests.post(
        f"{fake_xero.url}/_sandbox/organisations", json={"organisation_name": "Delta"}, timeout=5
    )

    assert (app.status_code, organisation.status_code) == (201, 201)
    assert "Delta" in authorize(fake_xero).text
