"""The whole Xero setup procedure, clicked through in chromium against the fake Xero."""

import pytest

from sites.models import Site
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET
from tests.xero.conftest import CLIENT_ID, CLIENT_SECRET
from xero.models import Certificate
from xero.sandbox import Organisation
from xero.services import certificate_issue

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _fast_retests(settings):
    settings.XERO_TEST_COOLDOWN = 0


def setup_path(site):
    return f"/sites/{site.code}/xero/setup/"


def step(page, key):
    return page.locator(f"#step-{key}")


def state_of(page, key):
    return step(page, key).locator("h2 .xero-state").inner_text()


def test_private_application_walk_through(login_as, make_site, fake_xero_settings, screenshots):
    fake = fake_xero_settings
    site = make_site(name="Acme Pty Ltd", code="acme")

    # An Admin issues the certificate and copies it, as the customer will paste it.
    admin = login_as("Admins")
    admin.goto(setup_path(site))
    assert "Xero retired private applications on 30 September 2021" in admin.content()
    assert [state_of(admin, key) for key in ("open_xero", "create_application")] == [
        "To do", "To do"
    ]  # fmt: skip
    screenshots(admin, "start")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Issue certificate").click()
    assert "Certificate issued" in admin.content()
    admin.get_by_role("button", name="Copy certificate").first.click()
    copied = admin.evaluate("navigator.clipboard.readText()")
    assert copied == Certificate.objects.get(site=site).certificate_pem
    screenshots(admin, "certificate-issued")
    # The customer pastes it into Xero (here: the fake Xero) and creates the application.
    fake.register_private_app(CONSUMER_KEY, copied, organisation=Organisation(Name="Acme Books"))

    # A Staff user pastes the Consumer Key and Secret into the Xero Details.
    staff = login_as("Staff")
    staff.goto(setup_path(site))
    assert staff.get_by_role("button", name="Test connection").count() == 0
    assert staff.get_by_role("button", name="Issue certificate").count() == 0
    staff.get_by_label("Xero API Key").fill(f"  {CONSUMER_KEY}\n")
    staff.get_by_label("Xero API Secret").fill(CONSUMER_SECRET)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Save Xero Details").click()
    assert "Xero Details saved." in staff.content()
    assert "LL.....QO" in staff.content()
    assert CONSUMER_SECRET not in staff.content()
    assert state_of(staff, "xero_details") == "Done"
    screenshots(staff, "details-saved")

    # Support runs the test, from the keyboard, and sees the organisation.
    support = login_as("Support")
    support.goto(setup_path(site))
    assert support.get_by_role("button", name="Save Xero Details").count() == 0
    assert support.get_by_label("Xero API Secret").count() == 0
    support.get_by_role("button", name="Test connection").focus()
    with support.expect_navigation():
        support.keyboard.press("Enter")
    assert "Connection test passed. Connected to Acme Books" in support.content()
    assert [state_of(support, key) for key in
            ("open_xero", "create_application", "xero_details", "connection_test")] == [
        "Done", "Done", "Done", "Done"
    ]  # fmt: skip
    screenshots(support, "test-passed")

    # Someone pastes another certificate into Xero: the test names both fingerprints.
    other = certificate_issue(site=make_site())
    fake.register_private_app(CONSUMER_KEY, other.certificate_pem)
    with support.expect_navigation():
        support.get_by_role("button", name="Test connection").click()
    text = support.locator("#step-connection_test").inner_text()
    ours = Certificate.objects.get(site=site)
    assert "Xero could not verify the signature" in text
    assert ours.fingerprint_sha1 in text and ours.fingerprint_sha256 in text
    assert state_of(support, "create_application") == "Problem"
    screenshots(support, "signature-invalid")

    for page in (admin, staff, support):
        page.reload()
        assert CONSUMER_SECRET not in page.content()
        assert "PRIVATE KEY" not in page.content()


def test_custom_connection_walk_through(login_as, make_site, fake_xero_settings, screenshots):
    fake = fake_xero_settings
    site = make_site(name="Modern Pty Ltd", code="modern")

    # Staff switch the Site from the retired private application to a Custom Connection.
    staff = login_as("Staff")
    staff.goto(setup_path(site))
    with staff.expect_navigation():
        staff.get_by_role("link", name="Switch this Site to a Custom Connection").click()
    with staff.expect_navigation():
        staff.get_by_role("button", name="Switch and clear the Key and Secret").click()
    assert Site.objects.get(pk=site.pk).connection_type == "custom_connection"
    assert "Choose the scopes and authorise the organisation" in staff.content()
    assert "X509" not in staff.content()
    fake.register_custom_connection(
        CLIENT_ID, CLIENT_SECRET, organisation=Organisation(Name="Modern Books")
    )
    staff.get_by_label("Xero API Key").fill(CLIENT_ID)
    staff.get_by_label("Xero API Secret").fill(CLIENT_SECRET)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Save Xero Details").click()
    assert CLIENT_SECRET not in staff.content()
    screenshots(staff, "custom-details-saved")

    support = login_as("Support")
    support.goto(setup_path(site))
    with support.expect_navigation():
        support.get_by_role("button", name="Test connection").click()
    assert "Connection test passed. Connected to Modern Books" in support.content()
    assert CLIENT_SECRET not in support.content()
    screenshots(support, "custom-test-passed")


def test_the_setup_page_fits_a_phone(login_as, site, issue_certificate, screenshots):
    issue_certificate(site)
    page = login_as("Admins", width=390, height=844)
    page.goto(setup_path(site))
    # Nothing makes the page scroll sideways (wide tables scroll inside themselves).
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    pem = page.locator("#certificate-to-paste").bounding_box()
    assert pem["x"] >= 0 and pem["x"] + pem["width"] <= 390
    screenshots(page, "phone")


def test_switching_to_a_custom_connection_asks_first_naming_what_it_clears(
    login_as, site, screenshots
):
    staff = login_as("Staff")
    staff.goto(setup_path(site))
    with staff.expect_navigation():
        staff.get_by_role("link", name="Switch this Site to a Custom Connection").click()
    text = staff.locator("#content-main").inner_text()
    assert CONSUMER_KEY in text and site.api_secret_masked in text
    assert CONSUMER_SECRET not in staff.content()
    screenshots(staff, "confirm")
    # Cancelling changes nothing.
    with staff.expect_navigation():
        staff.get_by_role("link", name="No, keep the private application").click()
    site.refresh_from_db()
    assert (site.connection_type, site.api_key, site.api_secret) == (
        "private_app",
        CONSUMER_KEY,
        CONSUMER_SECRET,
    )
    with staff.expect_navigation():
        staff.get_by_role("link", name="Switch this Site to a Custom Connection").click()
    with staff.expect_navigation():
        staff.get_by_role("button", name="Switch and clear the Key and Secret").click()
    site.refresh_from_db()
    assert (site.connection_type, site.api_key, site.api_secret) == ("custom_connection", "", "")
    assert staff.url.endswith(setup_path(site))


def test_the_switch_confirmation_fits_a_phone_and_dark_mode(login_as, site, axe_violations):
    from tests.browser.conftest import page_overflow

    staff = login_as("Staff", width=390, height=844)
    staff.emulate_media(color_scheme="dark")
    staff.goto(f"/sites/{site.code}/xero/setup/switch-to-custom-connection/")
    assert page_overflow(staff) == []
    assert axe_violations(staff) == []


def test_a_signature_invalid_failure_is_said_once_with_a_fingerprint_table(
    login_as, site, issue_certificate, fake_xero_settings, make_site, screenshots, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    ours = issue_certificate(site)
    fake_xero_settings.register_private_app(CONSUMER_KEY, ours.certificate_pem)
    support = login_as("Support")
    support.goto(setup_path(site))
    with support.expect_navigation():
        support.get_by_role("button", name="Test connection").click()
    # Someone pastes another certificate into Xero.
    other = certificate_issue(site=make_site())
    fake_xero_settings.register_private_app(CONSUMER_KEY, other.certificate_pem)
    with support.expect_navigation():
        support.get_by_role("button", name="Test connection").click()
    # The steps say it once; the audit trail below (issue 11) keeps its own record of the test.
    page = support.locator("#content .xero-setup").inner_text()
    assert page.count("Xero could not verify the signature") == 1
    assert page.count(ours.fingerprint_sha1) == 2  # the table, and the certificate's details
    table = support.locator("table.xero-fingerprints")
    assert table.locator("tbody tr").count() == 1
    row = table.locator("tbody tr").inner_text()
    assert ours.fingerprint_sha1 in row and ours.fingerprint_sha256 in row
    assert "Xero had this one at the last passing test" in row
    assert "Signature invalid" in support.locator(".messagelist").inner_text()
    assert state_of(support, "create_application") == "Problem"
    screenshots(support, "signature-invalid")


def test_after_switching_step_3_does_not_keep_the_old_applications_problem(
    login_as, site, issue_certificate, fake_xero_settings, settings
):
    from xero.services import connection_test_run

    settings.XERO_TEST_COOLDOWN = 0
    issue_certificate(site)  # the fake Xero knows no such Consumer Key
    connection_test_run(site=site)
    staff = login_as("Staff")
    staff.goto(setup_path(site))
    assert "Problem" in [state_of(staff, key) for key in ("xero_details", "create_application")]
    with staff.expect_navigation():
        staff.get_by_role("link", name="Switch this Site to a Custom Connection").click()
    with staff.expect_navigation():
        staff.get_by_role("button", name="Switch and clear the Key and Secret").click()
    assert [state_of(staff, key) for key in
            ("open_xero", "create_application", "xero_details", "connection_test")] == [
        "To do", "To do", "To do", "To do"
    ]  # fmt: skip
