"""A Site disconnected in Xero, walked in chromium from the customer's side: the fleet check
notices it, the customer's email links to the setup page, which says so, and Connect to
Xero again brings back the same organisation and a passing test."""

import re

import pytest

from tests.browser.conftest import allow_in_xero, customer_signs_in, no_horizontal_scroll, state_of
from tests.xero.conftest import fleet_check, make_private_site  # noqa: F401 - fixtures
from xero.models import TenantBinding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop", "phone-dark"]
)
def test_a_customer_follows_the_emails_link_and_connects_the_same_organisation_again(
    open_browser,
    make_user,
    web_site,  # noqa: F811
    xero,
    fleet_check,  # noqa: F811
    live_server,
    settings,
    mailoutbox,
    screenshots,
    axe_violations,
    width,
    scheme,
):
    settings.WAREHOUSE_URL = live_server.url
    customer = customer_signs_in(open_browser, make_user, web_site, width=width, scheme=scheme)
    customer.user.email = "cara@example.com"
    customer.user.save()
    allow_in_xero(customer, xero, "Acme Pty Ltd")
    customer.wait_for_url("**/xero/setup/*")
    fleet_check()  # passes
    xero.disconnect_in_xero(xero.acme.tenant_id)

    fleet_check()

    [mail] = [m for m in mailoutbox if "cara@example.com" in m.to]
    assert "disconnected in Xero" in mail.subject
    link = re.search(rf"{re.escape(live_server.url)}\S+", mail.body).group(0)
    customer.goto("about:blank")  # the customer comes back later, from their mail
    customer.goto(link)
    assert "/xero/setup/" in customer.url and customer.url.endswith("#step-open_xero")
    notice = customer.locator(".xero-disconnected-in-xero").inner_text()
    assert "Disconnected in Xero" in notice and "Acme Pty Ltd" in notice
    assert state_of(customer, "open_xero") == "Problem"
    assert no_horizontal_scroll(customer)
    assert axe_violations(customer) == []
    screenshots(customer, "disconnected-in-xero")

    allow_in_xero(customer, xero, "Acme Pty Ltd", button="Connect to Xero again")
    customer.wait_for_url("**/xero/setup/*")
    assert "Connected to Xero: this Site reaches Acme Pty Ltd" in customer.content()
    with customer.expect_navigation():
        customer.get_by_role("button", name="Test connection").click()

    assert "Connection test passed. Connected to Acme Pty Ltd" in customer.content()
    assert customer.locator(".xero-disconnected-in-xero").count() == 0
    assert state_of(customer, "open_xero") == "Done"
    assert TenantBinding.objects.get(site=web_site).tenant_name == "Acme Pty Ltd"
    screenshots(customer, "reconnected")
