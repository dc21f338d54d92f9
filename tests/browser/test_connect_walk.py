"""Connect to Xero, clicked through in chromium: the setup page, the fake Xero's consent
page, the choice of organisation, the test, and Disconnect (which asks first); by Staff and
by a customer on their own Site."""

import pytest

from tests.browser.conftest import (
    allow_in_xero,
    customer_signs_in,
    no_horizontal_scroll,
    page_overflow,
    state_of,
)
from xero.models import TenantBinding, TokenSet

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _fast_retests(settings):
    settings.XERO_TEST_COOLDOWN = 0


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop", "phone-dark"]
)
def test_connect_choose_test_and_disconnect(
    login_as,
    web_site,  # noqa: F811
    xero,
    screenshots,
    width,
    scheme,
):
    admin = login_as("Admins", width=width)
    admin.emulate_media(color_scheme=scheme)
    admin.goto(f"/sites/{web_site.code}/xero/setup/")
    assert [state_of(admin, key) for key in ("open_xero", "create_application")] == [
        "To do", "To do"
    ]  # fmt: skip
    assert no_horizontal_scroll(admin)
    screenshots(admin, "not-connected")

    admin.get_by_role("button", name="Connect to Xero").click()
    admin.wait_for_url(f"{xero.url}/identity/connect/authorize*")
    assert "Signed in as bookkeeper@example.com" in admin.content()
    admin.get_by_label("Acme Pty Ltd").check()
    admin.get_by_label("Beta Holdings").check()
    screenshots(admin, "xero-consent")
    admin.get_by_role("button", name="Allow access").click()

    admin.wait_for_url("**/xero/connect/choose/")
    assert no_horizontal_scroll(admin)
    admin.get_by_label("Acme Pty Ltd").check()
    screenshots(admin, "choose-organisation")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Connect this organisation").click()

    assert "Connected to Xero: this Site reaches Acme Pty Ltd" in admin.content()
    assert [state_of(admin, key) for key in ("open_xero", "create_application")] == [
        "Done", "Done"
    ]  # fmt: skip
    assert TenantBinding.objects.get(site=web_site).tenant_name == "Acme Pty Ltd"
    assert no_horizontal_scroll(admin)
    screenshots(admin, "connected")

    with admin.expect_navigation():
        admin.get_by_role("button", name="Test connection").click()
    assert "Connection test passed. Connected to Acme Pty Ltd" in admin.content()
    assert state_of(admin, "connection_test") == "Done"
    token_set = TokenSet.objects.get()
    assert token_set.access_token not in admin.content()
    screenshots(admin, "test-passed")

    # Disconnecting asks first, naming the organisation and that the consent is revoked;
    # cancelling changes nothing.
    with admin.expect_navigation():
        admin.get_by_role("link", name="Disconnect from Xero").click()
    asked = admin.locator("#content-main").inner_text()
    assert "Acme Pty Ltd" in asked and "revokes the consent" in asked
    assert no_horizontal_scroll(admin)
    screenshots(admin, "disconnect-asks")
    with admin.expect_navigation():
        admin.get_by_role("link", name="No, keep it connected").click()
    assert "/xero/setup/" in admin.url
    assert TenantBinding.objects.filter(site=web_site).exists() and xero.revoked_grants == []
    with admin.expect_navigation():
        admin.get_by_role("link", name="Disconnect from Xero").click()
    assert "/xero/disconnect/" in admin.url
    with admin.expect_navigation():
        admin.get_by_role("button", name="Disconnect from Xero").click()
    assert "Disconnected from Xero. Access revoked." in admin.content()
    assert state_of(admin, "open_xero") == "To do"
    assert not TenantBinding.objects.exists() and not TokenSet.objects.exists()
    assert len(xero.revoked_grants) == 1
    screenshots(admin, "disconnected")


def test_refusing_consent_lands_on_a_plain_page(login_as, web_site, xero, screenshots):  # noqa: F811
    staff = login_as("Staff")
    staff.goto(f"/sites/{web_site.code}/xero/setup/")
    assert staff.get_by_role("link", name="Disconnect from Xero").count() == 0

    staff.get_by_role("button", name="Connect to Xero").click()
    staff.wait_for_url(f"{xero.url}/identity/connect/authorize*")
    staff.get_by_role("button", name="Cancel").click()
    staff.wait_for_url("**/xero/callback/*")

    assert "Access was not allowed in Xero" in staff.content()
    assert not TokenSet.objects.exists()
    screenshots(staff, "consent-refused")
    with staff.expect_navigation():
        staff.get_by_role("link", name="Back to Webby Pty Ltd").click()
    assert "/xero/setup/" in staff.url


def test_a_private_application_site_switches_to_connect_to_xero_and_connects(
    login_as, make_site, xero, screenshots
):
    site = make_site(name="Oldway Pty Ltd", code="oldway")
    staff = login_as("Staff", width=390)
    staff.emulate_media(color_scheme="dark")
    staff.goto(f"/sites/{site.code}/xero/setup/")
    assert no_horizontal_scroll(staff)
    screenshots(staff, "private-banner")

    # A destructive switch: it asks first, naming what it clears, and only the POST switches.
    with staff.expect_navigation():
        staff.get_by_role("link", name="Switch this Site to Connect to Xero").click()
    assert "clears" in staff.content() and site.api_key in staff.content()
    assert no_horizontal_scroll(staff)
    site.refresh_from_db()
    assert site.connection_type == "private_app"
    with staff.expect_navigation():
        staff.get_by_role("button", name="Switch and clear the Key and Secret").click()
    assert "now connects through the Warehouse's Xero app" in staff.content()
    assert state_of(staff, "open_xero") == "To do"
    allow_in_xero(staff, xero, "Beta Holdings")
    staff.wait_for_url("**/xero/setup/*")

    assert "Connected to Xero: this Site reaches Beta Holdings" in staff.content()
    assert TenantBinding.objects.get(site=site).tenant_name == "Beta Holdings"
    assert no_horizontal_scroll(staff)
    screenshots(staff, "switched-and-connected")


def test_the_disconnect_confirmation_fits_a_phone_in_dark_mode(
    login_as,
    web_site,  # noqa: F811
    xero,
    axe_violations,
):
    admin = login_as("Admins", width=390, height=844)
    admin.emulate_media(color_scheme="dark")
    admin.goto(f"/sites/{web_site.code}/xero/setup/")
    allow_in_xero(admin, xero, "Acme Pty Ltd")
    admin.wait_for_url("**/xero/setup/*")

    with admin.expect_navigation():
        admin.get_by_role("link", name="Disconnect from Xero").click()

    assert "/xero/disconnect/" in admin.url
    assert page_overflow(admin) == []
    assert axe_violations(admin) == []


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop", "phone-dark"]
)
def test_a_customer_connects_their_own_site(
    open_browser,
    make_user,
    web_site,  # noqa: F811
    xero,
    screenshots,
    width,
    scheme,
):
    customer = customer_signs_in(open_browser, make_user, web_site, width=width, scheme=scheme)
    assert state_of(customer, "open_xero") == "To do"
    assert customer.get_by_role("link", name="Disconnect from Xero").count() == 0
    assert no_horizontal_scroll(customer)
    screenshots(customer, "customer-not-connected")

    allow_in_xero(customer, xero, "Acme Pty Ltd", "Beta Holdings")

    customer.wait_for_url("**/xero/connect/choose/")
    assert customer.get_by_role("link", name="Your Sites").count() == 1
    assert no_horizontal_scroll(customer)
    customer.get_by_label("Beta Holdings").check()
    screenshots(customer, "customer-chooses")
    with customer.expect_navigation():
        customer.get_by_role("button", name="Connect this organisation").click()

    assert "Connected to Xero: this Site reaches Beta Holdings" in customer.content()
    assert state_of(customer, "open_xero") == "Done"
    binding = TenantBinding.objects.get(site=web_site)
    assert binding.tenant_name == "Beta Holdings" and binding.connected_by == customer.user
    assert customer.get_by_role("button", name="Connect to Xero again").count() == 1
    assert customer.get_by_role("link", name="Disconnect from Xero").count() == 0
    with customer.expect_navigation():
        customer.get_by_role("button", name="Test connection").click()
    assert "Connection test passed. Connected to Beta Holdings" in customer.content()
    assert no_horizontal_scroll(customer)
    screenshots(customer, "customer-connected")
