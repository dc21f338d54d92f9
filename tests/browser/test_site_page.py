"""The Site's own admin page, clicked in chromium: every Xero button works where it is shown."""

import pytest

from tests.conftest import CONSUMER_KEY
from xero.models import Certificate, CertificateEvent, ConnectionTest
from xero.sandbox import Organisation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_retests(settings):
    settings.XERO_TEST_COOLDOWN = 0


def site_page(site):
    return f"/admin/sites/site/{site.pk}/change/"


def test_an_admin_issues_the_first_certificate_from_the_site_page(login_as, site, screenshots):
    admin = login_as("Admins")
    admin.goto(site_page(site))
    with admin.expect_navigation():
        admin.get_by_role("button", name="Issue certificate").click()
    certificate = Certificate.objects.get(site=site)
    assert certificate.state == Certificate.State.ACTIVE
    assert "Certificate issued" in admin.content()
    # The Site itself was not re-saved by the button.
    assert "was changed successfully" not in admin.content()
    assert admin.url.endswith(site_page(site))
    screenshots(admin, "issued")


def test_an_admin_makes_the_pending_certificate_active_from_the_site_page(
    login_as, site, issue_certificate
):
    old = issue_certificate(site)
    pending = issue_certificate(site)
    assert pending.state == Certificate.State.PENDING
    admin = login_as("Admins")
    admin.goto(site_page(site))
    with admin.expect_navigation():
        admin.get_by_role("button", name="Make active now").click()
    pending.refresh_from_db()
    old.refresh_from_db()
    assert pending.state == Certificate.State.ACTIVE
    assert old.state == Certificate.State.RETIRED
    assert CertificateEvent.objects.filter(certificate=pending, note="promoted by hand").exists()
    assert "The pending certificate is now active" in admin.content()


@pytest.mark.parametrize("role", ["Support", "Admins"])
def test_the_connection_test_button_runs_a_test_from_the_site_page(
    role, login_as, site, issue_certificate, fake_xero_settings, screenshots
):
    certificate = issue_certificate(site)
    fake_xero_settings.register_private_app(
        CONSUMER_KEY, certificate.certificate_pem, organisation=Organisation(Name="Acme Books")
    )
    page = login_as(role)
    page.goto(site_page(site))
    with page.expect_navigation():
        page.get_by_role("button", name="Test connection").click()
    test = ConnectionTest.objects.get(site=site)
    assert test.passed and test.run_by.groups.get().name == role
    assert "Connection test passed. Connected to Acme Books" in page.content()
    assert page.url.endswith(site_page(site))
    screenshots(page, "tested")


def test_staff_see_no_admin_or_support_buttons_on_the_site_page(login_as, site):
    staff = login_as("Staff")
    staff.goto(site_page(site))
    assert staff.get_by_role("button", name="Issue certificate").count() == 0
    assert staff.get_by_role("button", name="Test connection").count() == 0
    assert staff.get_by_role("button", name="Save", exact=True).count() == 1
