"""Issue 22's walk, the items of the Site's pages and the connection's states, pressed
again in chromium at 1280 px and 390 px: each test fails on the page as the walk found it."""

import re

import pytest
from django.core import mail

from sites.models import Site
from sites.roles import SUPPORT
from tests.browser.conftest import allow_in_xero, customer_signs_in, page_overflow, state_of
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET
from tests.xero.conftest import (  # noqa: F401 - fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    WEB_APP_CLIENT_ID,
    connected_site,
    custom_site,
    private_site,
)
from xero.fleet_alerts import fleet_alerts_send
from xero.models import Certificate
from xero.services import certificate_activate, connection_test_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWS = pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop", "phone-dark"]
)


@pytest.fixture(autouse=True)
def _fast_retests(settings):
    settings.XERO_TEST_COOLDOWN = 0


# Item 2 -------------------------------------------------------------------------------------


@VIEWS
def test_a_customer_reads_every_test_of_their_site_without_staff_usernames(
    open_browser,
    make_user,
    private_site,  # noqa: F811
    screenshots,
    axe_violations,
    width,
    scheme,
):
    support = make_user(SUPPORT)
    connection_test_run(site=private_site, user=support)
    customer = customer_signs_in(open_browser, make_user, private_site, width=width, scheme=scheme)
    assert support.username not in customer.locator("#connection-test").inner_text()
    with customer.expect_navigation():
        customer.get_by_role("button", name="Test connection").click()

    customer.locator("details.xero-test-history summary").click()
    with customer.expect_navigation() as navigation:
        customer.get_by_role("link", name="Every test of this Site").click()
    assert navigation.value.status == 200
    history = customer.locator("#content-main").inner_text()
    assert "2 tests, newest first." in history
    assert "Imagatec support" in history and customer.user.username in history
    assert support.username not in customer.content()
    assert customer.get_by_role("link", name="Your Sites").count() == 1
    assert page_overflow(customer) == []
    assert axe_violations(customer) == []
    screenshots(customer, "customer-history")


# Item 3 -------------------------------------------------------------------------------------


@VIEWS
def test_a_secret_typed_before_a_validation_error_is_asked_for_again_not_dropped(
    login_as, make_site, screenshots, axe_violations, width, scheme
):
    make_site(name="Taken Pty Ltd", code="taken")
    admin = login_as("Admins", width=width, color_scheme=scheme)
    admin.goto("/admin/sites/site/add/")
    admin.get_by_label("Name").fill("New Pty Ltd")
    admin.get_by_label("Code").fill("taken")
    admin.get_by_label("Xero API Key").fill(CLIENT_ID)
    admin.get_by_label("Xero API Secret").fill(CLIENT_SECRET)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save", exact=True).click()

    # The box comes back empty, and says so beside it.
    assert admin.get_by_label("Xero API Secret").input_value() == ""
    secret_row = admin.locator(".form-row.field-new_api_secret").inner_text()
    assert "Type the API Secret again" in secret_row
    assert CLIENT_SECRET not in admin.content()
    assert page_overflow(admin) == []
    assert axe_violations(admin) == []
    screenshots(admin, "secret-asked-again")

    # Fixing the code and saving without typing it again does not create the Site secretless.
    admin.get_by_label("Code").fill("newco")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save", exact=True).click()
    assert not Site.objects.filter(code="newco").exists()
    assert "was not kept: type it again" in admin.locator(".field-new_api_secret").inner_text()
    screenshots(admin, "secret-still-missing")

    admin.get_by_label("Xero API Secret").fill(CLIENT_SECRET)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save", exact=True).click()
    assert Site.objects.get(code="newco").api_secret == CLIENT_SECRET


def test_the_setup_pages_details_ask_for_the_secret_again_after_an_error(login_as, make_site):
    site = make_site(name="Blank Pty Ltd", code="blank", api_key="", api_secret="")
    staff = login_as("Staff", width=390)
    staff.goto(f"/sites/{site.code}/xero/setup/")
    staff.get_by_label("Xero API Key").fill("short")
    staff.get_by_label("Xero API Secret").fill(CONSUMER_SECRET)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Save Xero Details").click()
    assert "Type the API Secret again" in staff.locator("#step-xero_details").inner_text()
    staff.get_by_label("Xero API Key").fill(CONSUMER_KEY)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Save Xero Details").click()
    site.refresh_from_db()
    assert site.api_key == "" and site.api_secret == ""
    assert "was not kept: type it again" in staff.locator("#step-xero_details").inner_text()


# Items 5 and 17 -----------------------------------------------------------------------------


@VIEWS
def test_the_site_page_switches_the_connection_type_only_after_asking_and_clears_the_key(
    login_as, site, screenshots, axe_violations, width, scheme
):
    staff = login_as("Staff", width=width, color_scheme=scheme)
    staff.goto(f"/admin/sites/site/{site.pk}/change/")
    # No select that saves the type at once, keeping the Key and Secret.
    assert staff.locator("select[name=connection_type]").count() == 0
    assert "Private application" in staff.locator(".field-connection_type").inner_text()
    assert axe_violations(staff) == []
    screenshots(staff, "site-page-type")
    with staff.expect_navigation():
        staff.get_by_role("link", name="Switch to a Custom Connection…").click()
    asked = staff.locator("#content-main").inner_text()
    assert "clears" in asked and CONSUMER_KEY in asked
    site.refresh_from_db()
    assert site.connection_type == "private_app"
    with staff.expect_navigation():
        staff.get_by_role("button", name="Switch and clear the Key and Secret").click()
    site.refresh_from_db()
    assert (site.connection_type, site.api_key, site.api_secret) == ("custom_connection", "", "")
    assert page_overflow(staff) == []


@VIEWS
def test_a_connect_to_xero_sites_page_has_no_key_boxes_but_connects(
    login_as,
    web_site,  # noqa: F811
    xero,
    screenshots,
    axe_violations,
    width,
    scheme,
):
    admin = login_as("Admins", width=width, color_scheme=scheme)
    admin.goto(f"/admin/sites/site/{web_site.pk}/change/")
    assert admin.get_by_label("Xero API Key").count() == 0
    assert admin.get_by_label("Xero API Secret").count() == 0
    assert admin.get_by_label("Clear the stored API Secret").count() == 0
    assert page_overflow(admin) == []
    assert axe_violations(admin) == []
    screenshots(admin, "web-app-site-page")

    allow_in_xero(admin, xero, "Acme Pty Ltd")
    admin.wait_for_url("**/xero/setup/*")
    assert "Connected to Xero: this Site reaches Acme Pty Ltd" in admin.content()

    admin.goto(f"/admin/sites/site/{web_site.pk}/change/")
    panel = admin.locator("#connect-to-xero").inner_text()
    assert "Connected to Acme Pty Ltd" in panel
    # A link to the page that asks first.
    assert admin.get_by_role("link", name="Disconnect from Xero").count() == 1
    # Saving the page's own form keeps the connection type.
    with admin.expect_navigation():
        admin.get_by_role("button", name="Save", exact=True).click()
    web_site.refresh_from_db()
    assert web_site.connection_type == "web_app"
    screenshots(admin, "web-app-site-page-connected")


def test_a_custom_connection_sites_page_shows_its_key_boxes_and_no_certificate_or_connect(
    login_as,
    custom_site,  # noqa: F811
):
    staff = login_as("Staff", width=390)
    staff.goto(f"/admin/sites/site/{custom_site.pk}/change/")
    assert staff.get_by_label("Xero API Key").count() == 1
    assert staff.get_by_label("Xero API Secret").count() == 1
    assert staff.get_by_role("button", name="Connect to Xero").count() == 0
    assert staff.locator("#certificates").count() == 0


# Items 4 and 13 -----------------------------------------------------------------------------


def connect_through_xero(page, site, xero, *, organisations=("Acme Pty Ltd",)):
    """Press Connect to Xero on ``site``'s setup page and allow ``organisations``."""
    page.goto(f"/sites/{site.code}/xero/setup/")
    allow_in_xero(page, xero, *organisations)


def health_row(page, site):
    return page.locator("tr", has_text=site.name).first.inner_text()


@VIEWS
def test_disconnecting_shows_not_connected_at_once_everywhere_and_alerts_nobody(
    login_as,
    web_site,  # noqa: F811
    xero,
    screenshots,
    axe_violations,
    width,
    scheme,
):
    admin = login_as("Admins", width=width, color_scheme=scheme)
    admin.user.email = "admin@imagatec.example"
    admin.user.save()
    connect_through_xero(admin, web_site, xero)
    admin.wait_for_url("**/xero/setup/*")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Test connection").click()
    assert state_of(admin, "connection_test") == "Done"
    admin.goto("/xero/health/")
    assert "Passed" in health_row(admin, web_site)

    admin.goto(f"/sites/{web_site.code}/xero/setup/")
    with admin.expect_navigation():
        admin.get_by_role("link", name="Disconnect from Xero").click()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Disconnect from Xero").click()
    assert "Disconnected from Xero" in admin.content()
    # The steps start again, and the last result says it is moot.
    keys = ("open_xero", "create_application", "connection_test")
    assert [state_of(admin, key) for key in keys] == ["To do", "To do", "To do"]
    result = admin.locator("#connection-test").inner_text()
    assert "The Site was disconnected since this test: test again to confirm." in result
    assert axe_violations(admin) == []
    screenshots(admin, "disconnected-setup")

    for path in (
        "/xero/health/",
        "/xero/health/?filter=failing",
        "/xero/health/?filter=not_connected",
    ):
        admin.goto(path)
        row = health_row(admin, web_site)
        assert "Not connected" in row and "Passed" not in row, path
    assert page_overflow(admin) == []
    assert axe_violations(admin) == []
    screenshots(admin, "disconnected-health")
    admin.goto("/admin/sites/site/?health=failing")
    assert "Not connected" in health_row(admin, web_site)

    # The hourly check finds it not connected; the Admin who disconnected it is not alerted.
    mail.outbox.clear()
    connection_test_run(site=web_site)
    fleet_alerts_send(site=web_site)
    assert mail.outbox == []


@VIEWS
def test_a_result_made_obsolete_by_a_later_change_says_to_test_again(
    login_as, site, fake_xero_settings, screenshots, width, scheme
):
    connection_test_run(site=site)  # no certificate yet: "No certificate", at step 2
    admin = login_as("Admins", width=width, color_scheme=scheme)
    admin.goto(f"/sites/{site.code}/xero/setup/")
    assert state_of(admin, "create_application") == "Problem"
    with admin.expect_navigation():
        admin.get_by_role("button", name="Issue certificate").click()
    assert state_of(admin, "create_application") != "Problem"
    assert (
        "No certificate has been issued"
        not in admin.locator("#step-create_application").inner_text()
    )
    result = admin.locator("#connection-test").inner_text()
    assert "A new certificate was issued since this test: test again to confirm." in result
    screenshots(admin, "certificate-issued-since")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Test connection").click()
    assert "test again to confirm" not in admin.locator("#connection-test").inner_text()


def test_after_connecting_the_not_connected_result_says_to_test_again(
    login_as,
    web_site,  # noqa: F811
    xero,
):
    connection_test_run(site=web_site)  # "Not connected"
    staff = login_as("Staff", width=390)
    connect_through_xero(staff, web_site, xero)
    staff.wait_for_url("**/xero/setup/*")
    assert state_of(staff, "open_xero") == "Done"
    result = staff.locator("#connection-test").inner_text()
    assert "The Site was connected to Xero since this test: test again to confirm." in result


# Item 14 ------------------------------------------------------------------------------------


@VIEWS
def test_choosing_one_organisation_disconnects_the_others_in_xero_and_says_so(
    login_as,
    web_site,  # noqa: F811
    xero,
    screenshots,
    axe_violations,
    width,
    scheme,
):
    admin = login_as("Admins", width=width, color_scheme=scheme)
    connect_through_xero(admin, web_site, xero, organisations=("Acme Pty Ltd", "Beta Holdings"))
    admin.wait_for_url("**/xero/connect/choose/")
    assert "The others are disconnected" in admin.locator("#content-main").inner_text()
    assert page_overflow(admin) == []
    assert axe_violations(admin) == []
    assert len(xero.web_connections(WEB_APP_CLIENT_ID)) == 2
    admin.get_by_label("Acme Pty Ltd").check()
    with admin.expect_navigation():
        admin.get_by_role("button", name="Connect this organisation").click()

    said = admin.locator(".messagelist").inner_text()
    assert "this Site reaches Acme Pty Ltd" in said
    assert "Beta Holdings (also allowed in Xero) was disconnected" in said
    assert [c.organisation.Name for c in xero.web_connections(WEB_APP_CLIENT_ID)] == [
        "Acme Pty Ltd"
    ]
    screenshots(admin, "others-disconnected")


def test_an_organisation_another_site_uses_stays_connected_when_choosing(
    login_as,
    make_site,
    web_site,  # noqa: F811
    xero,
):
    other = make_site(name="Beta Site", code="beta", connection_type="web_app")
    staff = login_as("Staff")
    connect_through_xero(staff, other, xero, organisations=("Beta Holdings",))
    staff.wait_for_url("**/xero/setup/*")
    connect_through_xero(staff, web_site, xero, organisations=("Acme Pty Ltd", "Beta Holdings"))
    staff.wait_for_url("**/xero/connect/choose/")
    staff.get_by_label("Acme Pty Ltd").check()
    with staff.expect_navigation():
        staff.get_by_role("button", name="Connect this organisation").click()
    assert "was disconnected" not in staff.locator(".messagelist").inner_text()
    names = sorted(c.organisation.Name for c in xero.web_connections(WEB_APP_CLIENT_ID))
    assert names == ["Acme Pty Ltd", "Beta Holdings"]


# Item 7 -------------------------------------------------------------------------------------


def open_certificates(page):
    """Open the setup page's "Certificate details, rotation and history" (if closed)."""
    details = page.locator("details.xero-certificate-details")
    if details.get_attribute("open") is None:
        details.locator("> summary").click()


@VIEWS
def test_certificate_rotation_names_the_signer_asks_first_and_has_a_way_back(
    login_as,
    private_site,  # noqa: F811
    screenshots,
    axe_violations,
    width,
    scheme,
):
    old = Certificate.objects.get(site=private_site)
    admin = login_as("Admins", width=width, color_scheme=scheme)
    admin.goto(f"/sites/{private_site.code}/xero/setup/")
    open_certificates(admin)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Issue a new certificate").click()
    new = Certificate.objects.get(site=private_site, state=Certificate.State.PENDING)

    # Xero still holds the old one: the test passes, and says it was the old one that signed.
    with admin.expect_navigation():
        admin.get_by_role("button", name="Test connection").click()
    result = admin.locator("#connection-test .xero-result").inner_text()
    assert "Passed" in result
    assert f"Signed with the active certificate …{old.serial_end}" in result
    assert new.serial_end not in result
    screenshots(admin, "passed-with-the-old-one")

    # Making the new one active asks first, saying what happens if Xero lacks it.
    open_certificates(admin)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Make active now (it is already in Xero)…").click()
    asked = admin.locator("#content-main").inner_text()
    assert "fails with “Signature invalid”" in asked and "72 hours" in asked
    assert page_overflow(admin) == []
    assert axe_violations(admin) == []
    screenshots(admin, "make-active-asks")
    new.refresh_from_db()
    assert new.state == Certificate.State.PENDING
    with admin.expect_navigation():
        admin.get_by_role("button", name="Make it active now").click()
    assert "/xero/setup/" in admin.url

    # Xero lacks it: Signature invalid, and the table lists the retired one Xero still holds.
    with admin.expect_navigation():
        admin.get_by_role("button", name="Test connection").click()
    table = admin.locator("table.xero-fingerprints").inner_text()
    assert old.fingerprint_sha1 in table and new.fingerprint_sha1 in table
    assert "Xero had this one at the last passing test" in table
    assert axe_violations(admin) == []
    screenshots(admin, "signature-invalid-lists-the-retired-one")

    # The way back: the retired one is made active again (asked first), and the test passes.
    with admin.expect_navigation():
        admin.get_by_role("button", name=f"Make …{old.serial_end} active again…").click()
    assert axe_violations(admin) == []
    with admin.expect_navigation():
        admin.get_by_role("button", name="Make it active again").click()
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == (Certificate.State.ACTIVE, Certificate.State.PENDING)
    with admin.expect_navigation():
        admin.get_by_role("button", name="Test connection").click()
    result = admin.locator("#connection-test .xero-result").inner_text()
    assert "Passed" in result and f"the active certificate …{old.serial_end}" in result
    assert page_overflow(admin) == []
    screenshots(admin, "made-active-again")


def test_a_certificate_retired_longer_ago_than_the_setting_cannot_be_made_active_again(
    login_as, site, issue_certificate, settings
):
    settings.XERO_CERTIFICATE_REACTIVATION_HOURS = 0
    issue_certificate(site)
    certificate_activate(certificate=issue_certificate(site))
    admin = login_as("Admins", width=390)
    admin.goto(f"/sites/{site.code}/xero/setup/")
    assert admin.get_by_role("button", name=re.compile("active again")).count() == 0
