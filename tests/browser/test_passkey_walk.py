"""Passkeys in chromium, with its virtual authenticator (DevTools protocol's WebAuthn domain):
add one from the account's page, sign out, sign in with the password and the passkey,
remove it; the authenticator app still works. At 1280 px and 390 px, axe-core clean, and
nothing blocked by the Content-Security-Policy."""

import pytest
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import TOTPDevice
from sites.models import AuditEntry
from tests.browser.conftest import page_overflow, sign_in_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_virtual_authenticator(page) -> tuple:
    """A platform authenticator (like Touch ID or Windows Hello) that says yes at once."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return devtools, added["authenticatorId"]


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop", "phone-dark"]
)
def test_add_a_passkey_sign_in_with_it_and_remove_it(
    login_as, live_server, settings, axe_violations, screenshots, width, scheme
):
    # The live server's address is the origin the browser signs for (localhost: a secure
    # context and a valid relying party, unlike 127.0.0.1).
    assert live_server.url.startswith("http://localhost:")
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    page = login_as("Staff", width=width, color_scheme=scheme)
    user = page.user
    csp_reports = []
    page.on("console", lambda message: csp_reports.append(message.text))
    devtools, authenticator = add_virtual_authenticator(page)

    page.get_by_role("link", name="Passkeys").click()
    page.wait_for_url("**/admin/passkeys/")
    assert page.locator("#passkeys-none").is_visible()
    assert axe_violations(page) == []
    assert page_overflow(page) == []
    screenshots(page, "no-passkey-yet")

    with page.expect_navigation():  # the list reloads once the passkey is added
        page.get_by_role("button", name="Add a passkey").click()
    assert "Passkey added." in page.locator(".messagelist").inner_text()
    passkey = WebAuthnCredential.objects.get(user=user)
    assert page.get_by_role("cell", name=passkey.name, exact=True).is_visible()
    credentials = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    assert axe_violations(page) == []
    assert page_overflow(page) == []
    screenshots(page, "passkey-added")

    page.locator("#logout-form button").click()
    page.wait_for_url("**/admin/logout/")
    sign_in_with_password(page, user.username)
    page.wait_for_url("**/admin/second-factor/**")
    use = page.get_by_role("button", name="Use a passkey")
    assert use.is_visible()
    assert axe_violations(page) == []
    assert page_overflow(page) == []
    screenshots(page, "second-factor-offers-the-passkey")
    with page.expect_navigation(url="**/admin/"):
        use.click()
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None
    screenshots(page, "signed-in-with-the-passkey")

    page.get_by_role("link", name="Passkeys").click()
    page.wait_for_url("**/admin/passkeys/")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Remove {passkey.name}").click()
    assert "Passkey removed." in page.locator(".messagelist").inner_text()
    assert page.locator("#passkeys-none").is_visible()
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert list(
        AuditEntry.objects.filter(kind__startswith="passkey_")
        .order_by("pk")
        .values_list("kind", flat=True)
    ) == ["passkey_added", "passkey_removed"]
    assert axe_violations(page) == []
    screenshots(page, "passkey-removed")
    assert not [text for text in csp_reports if "Content Security Policy" in text]
