"""Issue 22's walk, the items of the Site's pages and the connection's states, pressed
again in chromium at 1280 px and 390 px: each test fails on the page as the walk found it."""

import pytest

from sites.roles import SUPPORT
from tests.browser.conftest import page_overflow
from tests.browser.test_connect_walk import customer_signs_in
from tests.xero.conftest import (  # noqa: F401 - fixtures
    connected_site,
    private_site,
    web_app_xero,
    web_site,
)
from xero.services import connection_test_run

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
    open_browser, make_user, private_site, screenshots, axe_violations, width, scheme
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
