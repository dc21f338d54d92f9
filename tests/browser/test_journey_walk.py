"""The walk of issue 22, pressed again in chromium: the audit log, the header, the messages
and the wording a role meets on the way, at 1280 px and 390 px."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [pytest.param({"width": 1280, "height": 900}, id="1280"),
          pytest.param({"width": 390, "height": 844}, id="390")]


@pytest.mark.parametrize("size", WIDTHS)
@pytest.mark.parametrize("role", ["Admins", "Support"])
def test_the_audit_log_is_a_click_from_the_top_bar_and_the_index(role, size, login_as, site):
    page = login_as(role, **size)
    page.goto(f"/admin/sites/site/{site.pk}/change/")
    with page.expect_navigation():
        page.get_by_role("navigation", name="Warehouse").get_by_role(
            "link", name="Audit log"
        ).click()
    assert page.url.endswith("/audit/")
    page.goto("/admin/")
    with page.expect_navigation():
        page.locator("#everyday").get_by_role("link", name="Audit log").click()
    assert page.url.endswith("/audit/")


def test_staff_see_no_audit_log_link_they_could_not_open(login_as, site):
    page = login_as("Staff")
    page.goto("/admin/")
    assert page.get_by_role("link", name="Audit log").count() == 0


@pytest.mark.parametrize("size", WIDTHS)
def test_the_header_has_no_view_site_link_to_the_admin_index(size, login_as, site):
    page = login_as("Admins", **size)
    for path in ["/admin/", f"/admin/sites/site/{site.pk}/change/", "/sites/acme/xero/setup/"]:
        page.goto(path)
        assert page.locator("#user-tools").get_by_role("link", name="View site").count() == 0


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_axe_finds_no_serious_problem_on_the_admin_index(color_scheme, login_as, axe_violations):
    page = login_as("Admins", color_scheme=color_scheme)
    page.goto("/admin/")
    assert axe_violations(page) == []
