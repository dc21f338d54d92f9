"""Every everyday page, in chromium: it fits a phone, and axe-core finds no serious problem."""

import pytest

from tests.browser.conftest import page_overflow
from xero.services import certificate_issue, connection_test_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def walked_site(site, issue_certificate, fake_xero_settings, settings, make_site):
    """The Acme Site after a long day: a rotation pending and a signature_invalid failure
    (the widest thing the pages show: four fingerprints), with a history of tests."""
    settings.XERO_TEST_COOLDOWN = 0
    issue_certificate(site)
    issue_certificate(site)
    other = certificate_issue(site=make_site(name="Other Pty Ltd"))
    fake_xero_settings.register_private_app(site.api_key, other.certificate_pem)
    for _ in range(3):
        connection_test_run(site=site)
    return site


def everyday_pages(site):
    return {
        "index": "/admin/",
        "site list": "/admin/sites/site/",
        "add Site": "/admin/sites/site/add/",
        "Site page": f"/admin/sites/site/{site.pk}/change/",
        "Site history": f"/admin/sites/site/{site.pk}/history/",
        "setup page": f"/sites/{site.code}/xero/setup/",
        "health page": "/xero/health/",
        "test history": f"/sites/{site.code}/xero/connection-tests/",
        "alert settings": "/account/alerts/",
    }


@pytest.mark.parametrize("role", ["Admins", "Support", "Staff"])
def test_no_everyday_page_is_wider_than_a_phone(role, login_as, walked_site, screenshots):
    page = login_as(role, **PHONE)
    too_wide = {}
    for name, path in everyday_pages(walked_site).items():
        page.goto(path)
        if overflow := page_overflow(page):
            too_wide[name] = overflow
            screenshots(page, name.replace(" ", "-"))
    assert not too_wide, too_wide


AXE_PAGES = [
    "setup page",
    "health page",
    "Site page",
    "test history",
    "site list",
    "add Site",
    "alert settings",
]


@pytest.mark.parametrize("name", AXE_PAGES)
def test_axe_finds_no_serious_accessibility_problem(name, login_as, walked_site, axe_violations):
    page = login_as("Admins")
    page.goto(everyday_pages(walked_site)[name])
    assert axe_violations(page) == []


@pytest.mark.parametrize("name", AXE_PAGES)
def test_axe_finds_no_serious_accessibility_problem_in_dark_mode(
    name, browser, login_as, walked_site, axe_violations
):
    page = login_as("Admins")
    page.emulate_media(color_scheme="dark")
    page.goto(everyday_pages(walked_site)[name])
    assert axe_violations(page) == []
