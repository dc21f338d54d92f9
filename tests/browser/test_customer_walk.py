"""A customer with nothing but an invitation link does the whole procedure, in chromium."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from accounts.models import TOTPDevice
from customers.models import Invitation, Membership
from customers.services import invitation_accept, invitation_create
from sites.roles import SUPPORT
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET, restore_roles
from tests.second_factor import totp_code
from xero.models import Certificate
from xero.services import certificate_issue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CUSTOMER_PASSWORD = "customer-chooses-this-42"


@pytest.fixture(autouse=True)
def _fast_retests(settings):
    settings.XERO_TEST_COOLDOWN = 0


def test_customer_does_the_procedure_from_an_invitation_link(
    login_as, browser, live_server, make_site, make_user, fake_xero_settings, screenshots
):
    fake = fake_xero_settings
    site = make_site(name="Acme Pty Ltd", code="acme")
    other = make_site(name="Other Pty Ltd", code="other")
    other_certificate = certificate_issue(site=other)
    certificate_issue(site=site)
    support_contact = make_user(SUPPORT)
    support_contact.email = "support@imagatec.example"
    support_contact.save()

    # Staff invite the customer from the Site's page.
    staff = login_as("Staff")
    staff.goto(f"/admin/sites/site/{site.pk}/change/")
    staff.get_by_label("Customer's email address").fill("anna@acme.example")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Send invitation").click()
    assert "Invitation emailed to anna@acme.example" in staff.content()
    screenshots(staff, "staff-invited")
    staff.goto("/admin/sites/site/?customer=waiting")
    assert "Acme Pty Ltd" in staff.locator("#changelist").inner_text()
    (email,) = [m for m in mail.outbox if m.to == ["anna@acme.example"]]
    (link,) = re.findall(r"http://\S+/invitations/\S+/", email.body)
    assert CONSUMER_KEY not in email.body and "CERTIFICATE" not in email.body

    # The customer opens the link in a browser of their own and chooses a password.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    customer = context.new_page()
    customer.goto(link)
    assert "Acme Pty Ltd" in customer.content()
    screenshots(customer, "customer-opens-link")
    customer.get_by_label("Choose a password").fill(CUSTOMER_PASSWORD)
    customer.get_by_label("The same password again").fill(CUSTOMER_PASSWORD)
    with customer.expect_navigation():
        customer.get_by_role("button", name="Set my password and continue").click()
    # The second factor is required: they enrol with their authenticator app (here: the code
    # computed from the key the page shows), keep their recovery codes, and go on to the Site.
    customer.wait_for_url("**/admin/second-factor/enrol/**")
    user = get_user_model().objects.get(email="anna@acme.example")
    device = TOTPDevice.objects.get(user=user)
    assert customer.locator("#enrol-secret").inner_text() == device.secret_base32
    screenshots(customer, "customer-enrols")
    customer.fill("#id_code", totp_code(device))
    with customer.expect_navigation():
        customer.click("input[type=submit]")
    assert customer.locator("#recovery-codes code").count() == 10
    customer.click("#recovery-codes-continue")
    customer.wait_for_url("**/sites/acme/xero/setup/")
    assert customer.get_by_role("button", name="Issue certificate").count() == 0
    assert customer.get_by_role("button", name="Issue a new certificate").count() == 0

    # Step 2: the certificate, copied and downloaded (the public one; never the key).
    customer.get_by_role("button", name="Copy certificate").first.click()
    copied = customer.evaluate("navigator.clipboard.readText()")
    pem = Certificate.objects.get(site=site).certificate_pem
    assert copied == pem
    with customer.expect_download() as download:
        # Issue 12's download name: code, state and the serial's last digits.
        customer.get_by_role(
            "link", name=re.compile(r"Download acme-active-\w+-publickey\.cer")
        ).first.click()
    assert Path(download.value.path()).read_text() == pem
    screenshots(customer, "customer-certificate")

    # Step 3: their Key and Secret, typed in by them; the Secret is shown masked only.
    customer.get_by_label("Xero API Key").fill(CONSUMER_KEY)
    customer.get_by_label("Xero API Secret").fill(CONSUMER_SECRET)
    with customer.expect_navigation():
        customer.get_by_role("button", name="Save Xero Details").click()
    assert "Xero Details saved." in customer.content()
    assert "LL.....QO" in customer.content() and CONSUMER_SECRET not in customer.content()

    # They paste the certificate into Xero (here the sandbox) and test until it passes.
    call_command("xero_sandbox_register", "acme", "--url", fake.url, "--organisation", "Acme Books")
    fake.fail_next("unavailable")
    with customer.expect_navigation():
        customer.get_by_role("button", name="Test connection").click()
    assert "Connection test failed" in customer.content()
    with customer.expect_navigation():
        customer.get_by_role("button", name="Test connection").click()
    assert "Connection test passed. Connected to Acme Books" in customer.content()
    screenshots(customer, "customer-test-passed")

    # Support see it under the customer's name, got one email, and the Site left the filter.
    (alert,) = [m for m in mail.outbox if m.to == ["support@imagatec.example"]]
    assert "passed" in alert.subject and "anna@acme.example" in alert.body
    support = login_as("Support")
    support.goto("/sites/acme/xero/setup/")
    history = support.locator("#step-connection_test").inner_text()
    assert "anna@acme.example" in history
    support.goto("/admin/sites/site/?customer=waiting")
    assert "Acme Pty Ltd" not in support.locator("#changelist").inner_text()
    screenshots(support, "support-waiting-filter")
    assert Invitation.objects.get().state() == Invitation.State.ACCEPTED

    # The customer tries another Site's URLs: 404 for each, and nothing of it shown.
    for path in (
        "/sites/other/xero/setup/",
        f"/sites/other/xero/certificates/{other_certificate.pk}/publickey.cer",
        f"/admin/sites/site/{other.pk}/change/",
        f"/admin/sites/site/{other.pk}/history/",
        "/xero/health/",
    ):
        response = customer.request.get(path)
        assert response.status == 404, path
        assert "Other Pty Ltd" not in response.text()
    # The Site list is their own Sites.
    customer.goto("/admin/sites/site/")
    assert customer.url.endswith("/sites/acme/xero/setup/")
    response = customer.request.post(
        "/sites/other/xero/connection-test/",
        headers={"X-CSRFToken": _csrf(context)},
    )
    assert response.status == 404
    context.close()


def _csrf(context):
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


def _no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_customers_panel_and_the_link_pages_fit_a_phone_in_dark_mode(
    login_as, browser, live_server, make_site, screenshots
):
    site = make_site(name="Acme Pty Ltd", code="acme")
    support = login_as("Support", width=390, height=844)
    support.emulate_media(color_scheme="dark")
    support.goto(f"/admin/sites/site/{site.pk}/change/")
    support.get_by_label("Customer's email address").fill("anna@acme.example")
    with support.expect_navigation():
        support.get_by_role("button", name="Send invitation").click()
    assert "Invitation emailed to anna@acme.example" in support.content()
    assert _no_horizontal_scroll(support)
    screenshots(support, "panel-phone-dark")
    (email,) = [m for m in mail.outbox if m.to == ["anna@acme.example"]]
    (link,) = re.findall(r"http://\S+/invitations/\S+/", email.body)

    # The customer's phone opens the link: it fits, in dark mode too.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    customer = context.new_page()
    customer.goto(link)
    assert customer.get_by_label("Choose a password").is_visible()
    assert _no_horizontal_scroll(customer)
    screenshots(customer, "accept-phone-dark")

    # Support revoke it with the panel's button; the link then says so, and makes nothing.
    with support.expect_navigation():
        support.get_by_role("button", name="Revoke").click()
    assert "was revoked" in support.content()
    assert Invitation.objects.get().state() == Invitation.State.REVOKED
    customer.goto(link)
    assert "This invitation was withdrawn" in customer.content()
    assert _no_horizontal_scroll(customer)
    screenshots(customer, "revoked-phone-dark")
    context.close()


def test_a_second_link_to_an_existing_account_adds_the_site_with_its_password(
    browser, live_server, make_site, screenshots
):
    # Invited to two Sites before she had an account, Anna accepted the first; the second
    # link signs no one in by itself: it asks for her password, on her phone too.
    restore_roles()  # a transactional test before this one flushed the groups
    first, second = make_site(name="Acme Pty Ltd"), make_site(name="Beta Pty Ltd", code="beta")
    _, first_link = invitation_create(site=first, email="anna@acme.example", link_base="")
    _, second_link = invitation_create(site=second, email="anna@acme.example", link_base="")
    token = first_link.rstrip("/").rsplit("/", 1)[1]
    invitation_accept(token=token, password=CUSTOMER_PASSWORD)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, color_scheme="dark"
    )
    phone = context.new_page()
    phone.goto(second_link)
    assert "You have a Warehouse account already" in phone.content()
    assert phone.get_by_label("Choose a password").count() == 0
    assert _no_horizontal_scroll(phone)
    screenshots(phone, "accept-existing-account-phone-dark")

    phone.get_by_label("Your Warehouse password").fill("not-her-password-77")
    with phone.expect_navigation():
        phone.get_by_role("button", name="Add the Site to my account").click()
    assert "not the password of this account" in phone.content()
    assert not Membership.objects.filter(site=second).exists()

    phone.get_by_label("Your Warehouse password").fill(CUSTOMER_PASSWORD)
    with phone.expect_navigation():
        phone.get_by_role("button", name="Add the Site to my account").click()
    # Signed in with the password: on to the second factor, then the Site.
    phone.wait_for_url("**/admin/second-factor/**")
    assert Membership.objects.filter(site=second, user__email="anna@acme.example").exists()
    context.close()
