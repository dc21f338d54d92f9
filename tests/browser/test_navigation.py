"""Finding one's way, in chromium: the health and setup pages are a click from everywhere."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("role", ["Staff", "Admins", "Support"])
def test_the_top_bar_leads_to_the_health_page_and_the_sites_from_every_page(role, login_as, site):
    page = login_as(role)
    for start in ["/admin/", f"/admin/sites/site/{site.pk}/change/", "/sites/acme/xero/setup/"]:
        page.goto(start)
        bar = page.get_by_role("navigation", name="Warehouse")
        with page.expect_navigation():
            bar.get_by_role("link", name="Xero health").click()
        assert page.url.endswith("/xero/health/")
    with page.expect_navigation():
        page.get_by_role("navigation", name="Warehouse").get_by_role("link", name="Sites").click()
    assert page.url.endswith("/admin/sites/site/")


def test_the_index_site_list_and_site_page_each_link_the_health_page(login_as, site):
    page = login_as("Support")
    for start, where in [
        ("/admin/", page.locator("#everyday")),
        ("/admin/sites/site/", page.locator(".object-tools")),
        (f"/admin/sites/site/{site.pk}/change/", page.locator(".object-tools")),
    ]:
        page.goto(start)
        with page.expect_navigation():
            where.get_by_role("link", name="Xero health").click()
        assert page.url.endswith("/xero/health/"), start


def test_the_site_list_has_a_setup_column_and_health_rows_open_the_setup_page(login_as, site):
    page = login_as("Staff")
    page.goto("/admin/sites/site/")
    with page.expect_navigation():
        page.get_by_role("link", name="Xero setup of Acme Pty Ltd").click()
    assert page.url.endswith("/sites/acme/xero/setup/")
    page.goto("/xero/health/")
    with page.expect_navigation():
        page.get_by_role("link", name="Acme Pty Ltd", exact=True).click()
    assert page.url.endswith("/sites/acme/xero/setup/")
    page.goto("/xero/health/")
    with page.expect_navigation():
        page.get_by_role("link", name="Site page of Acme Pty Ltd").click()
    assert page.url.endswith(f"/admin/sites/site/{site.pk}/change/")
