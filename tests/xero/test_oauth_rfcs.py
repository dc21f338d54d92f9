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
