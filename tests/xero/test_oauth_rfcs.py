"""Issue 26, OAuth exactly as the RFCs say, end to end against the fake Xero's identity
server (which enforces what a conforming server enforces): client authentication
form-encoded (RFC 6749 §2.3.1), a rejected token handled by the protocol (RFC 6750 §3.1),
replaced refresh tokens revoked (RFC 7009), nothing but the RFCs' headers at the identity
server, the refresh guard without the database's write lock, and the id_token checked
(OpenID Connect Core §3.1.3.7)."""

from xero.models import TokenSet
from xero.services import connection_test_run

from .conftest import CLIENT_ID, WEB_APP_CLIENT_ID
from .connecting import connect, expire

# What the app's validator accepts and a conforming server decodes: "+" is a space
# unless encoded, "%" starts an escape, ":" ends the client id in Basic.
ODD_SECRET = "Se+cr%et:42/=~odd+secret%2B"


# 1. Client authentication form-encoded before HTTP Basic (RFC 6749 §2.3.1).


def test_a_custom_connection_secret_with_plus_percent_and_colon_works_end_to_end(
    make_site, fake_xero_settings
):
    site = make_site(
        name="Odd Secret Pty Ltd",
        code="odd",
        connection_type="custom_connection",
        api_key=CLIENT_ID,
        api_secret=ODD_SECRET,
    )
    site.full_clean()  # the app's own validator accepts it
    fake_xero_settings.register_custom_connection(CLIENT_ID, ODD_SECRET)

    test = connection_test_run(site=site)

    assert test.passed, test.message


def test_the_web_apps_token_refresh_and_revocation_encode_an_odd_secret(
    client_for, web_site, web_app_xero, settings
):
    settings.XERO_APP_CLIENT_SECRET = ODD_SECRET
    web_app_xero.web.apps[WEB_APP_CLIENT_ID].client_secret = ODD_SECRET
    staff = client_for("admins")

    response = connect(staff, web_app_xero, web_site, web_app_xero.acme)
    assert response.status_code == 302, response.content.decode()
    expire(web_app_xero)
    test = connection_test_run(site=web_site)
    assert test.passed, test.message
    assert web_app_xero.refresh_count == 1
    response = staff.post(f"/sites/{web_site.code}/xero/disconnect/")

    assert response.status_code == 302
    assert len(web_app_xero.revoked_grants) == 1
    assert not TokenSet.objects.exists()


# 4. Requests to the identity server carry only what the RFCs ask for.

RFC_HEADERS = {
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "connection",
    "content-type",
    "content-length",
    "authorization",
}


def identity_calls(fake):
    return [call for call in fake.calls if call.path in ("/connect/token", "/connect/revocation")]


def test_a_refresh_inside_a_sites_session_sends_no_tenant_to_the_token_endpoint(
    client_for, connected_site, web_app_xero
):
    web_app_xero.expire_tokens()  # Xero says expired: the refresh happens mid-session

    test = connection_test_run(site=connected_site)
    client_for("admins").post(f"/sites/{connected_site.code}/xero/disconnect/")

    assert test.passed, test.message
    calls = identity_calls(web_app_xero)
    assert [call.path for call in calls] == [
        "/connect/token",  # the code exchange
        "/connect/token",  # the refresh, inside the Site's session
        "/connect/revocation",
    ]
    for call in calls:
        assert {name.lower() for name in call.headers} <= RFC_HEADERS, call.headers
        assert call.headers["Authorization"] == "Basic"
    # The API calls of that session did name the organisation.
    api = [call for call in web_app_xero.calls if call.path.startswith("/api.xro/")]
    assert api and all("Xero-Tenant-Id" in call.headers for call in api)
