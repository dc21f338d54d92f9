"""Issue 22, item 1: invited as ``Carol.Customer@Example.com``, the customer signs in by
typing exactly that, at 1280 px and 390 px."""

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.models import TOTPDevice
from customers.services import invitation_create
from tests.conftest import restore_roles
from tests.second_factor import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "Carol.Customer@Example.com"
PASSWORD = "carol-chooses-this-42"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_customer_signs_in_with_her_address_exactly_as_the_warehouse_showed_it(
    open_browser, live_server, make_site, axe_violations, width
):
    restore_roles()  # the transactional flush removed the groups
    site = make_site(name="Carol's Cakes Pty Ltd", code="carols")
    _, link = invitation_create(site=site, email=ADDRESS, link_base=live_server.url)

    # She accepts in one browser: the page shows her address as she was invited.
    first = open_browser(width=width)
    first.goto(link)
    assert ADDRESS in first.content()
    first.get_by_label("Choose a password").fill(PASSWORD)
    first.get_by_label("The same password again").fill(PASSWORD)
    with first.expect_navigation():
        first.get_by_role("button", name="Set my password and continue").click()
    first.wait_for_url("**/admin/second-factor/enrol/**")
    # Django's user model keeps the domain in lower case ("Carol.Customer@example.com").
    device = TOTPDevice.objects.get(user=get_user_model().objects.get(email__iexact=ADDRESS))
    first.fill("#id_code", totp_code(device))
    with first.expect_navigation():
        first.click("input[type=submit]")
    first.click("#recovery-codes-continue")
    first.wait_for_url("**/sites/carols/xero/setup/")

    # Later, in another browser, she types the address exactly as shown, and is let in.
    page = open_browser(width=width)
    page.goto("/admin/login/")
    assert page.get_by_label("Email address or username").count() == 1
    assert axe_violations(page) == []
    page.get_by_label("Email address or username").fill(ADDRESS)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    assert "staff account" not in page.content()
    page.wait_for_url("**/admin/second-factor/**")
    page.fill("#id_code", totp_code(device, steps=1))
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.wait_for_url("**/sites/carols/xero/setup/")
    assert "Carol's Cakes Pty Ltd" in page.content()
