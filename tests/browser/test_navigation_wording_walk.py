"""The walk of issue 22, pressed again in chromium: the audit log, the header, the messages
and the wording a role meets on the way, at 1280 px and 390 px."""

import csv
import re

import pytest
from django.core import mail

from accounts.models import TOTPDevice
from customers.access import CUSTOMERS
from customers.models import Membership
from customers.services import membership_add
from sites.models import Site
from tests.browser.conftest import PASSWORD, page_overflow, sign_in_with_password
from tests.second_factor import totp_code
from xero.services import certificate_issue, connection_test_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [
    pytest.param({"width": 1280, "height": 900}, id="1280"),
    pytest.param({"width": 390, "height": 844}, id="390"),
]


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


@pytest.mark.parametrize("size", WIDTHS)
def test_test_all_failing_says_only_what_happened(size, login_as, make_site, settings):
    settings.XERO_TEST_COOLDOWN = 0
    make_site(name="Quiet Pty Ltd")
    page = login_as("Support", **size)
    page.goto("/xero/health/")
    with page.expect_navigation():
        page.get_by_role("button", name="Test all failing").click()
    said = page.locator(".messagelist").inner_text()
    assert "No Site is failing: there is nothing to test." in said
    assert "Queued 0" not in said and "already queued" not in said

    page.get_by_label("Select Quiet Pty Ltd").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Test selected").click()
    said = page.locator(".messagelist").inner_text()
    assert "Queued 1 Site test." in said and "already queued" not in said
    page.get_by_label("Select Quiet Pty Ltd").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Test selected").click()
    said = page.locator(".messagelist").inner_text()
    assert "1 Site was already queued." in said and "Queued" not in said


@pytest.mark.parametrize("size", WIDTHS)
def test_enrolment_shows_only_what_works_there(size, login_as):
    page = login_as("Staff", second_factor=False, **size)
    assert page.get_by_role("navigation", name="Warehouse").count() == 0
    links = page.locator("#header a").evaluate_all("links => links.map(a => a.textContent)")
    assert links == []
    assert "customers' Xero organisations" not in page.content()
    page.fill("#id_code", "000000")
    with page.expect_navigation():
        page.click("input[type=submit]")
    error = page.locator(".errorlist").inner_text()
    assert "That code is not right" in error and "recovery code" not in error


@pytest.mark.parametrize("size", WIDTHS)
def test_the_reset_message_says_the_user_is_signed_out(size, login_as):
    boss = login_as("superuser", **size)
    kim = login_as("Staff")
    boss.goto("/admin/auth/user/")
    boss.get_by_role("row", name=re.compile(kim.user.username)).get_by_role("checkbox").check()
    boss.select_option("select[name=action]", "reset_second_factor")
    with boss.expect_navigation():
        boss.get_by_role("button", name="Go").click()
    said = boss.locator(".messagelist").inner_text()
    assert "They are signed out now" in said and "At their next page" not in said
    kim.goto("/admin/sites/site/")
    assert "/admin/login/" in kim.url


def remember_busy_note(page):
    """Keep what the page says while its request runs in the tab's sessionStorage, to read
    once the next page is there (Playwright waits for that page before looking)."""
    page.evaluate(
        """() => new MutationObserver(() => {
            const note = document.querySelector(".xero-busy-note");
            if (note) sessionStorage.setItem(
                "note", JSON.stringify([note.getAttribute("role"), note.textContent]));
        }).observe(document.body, {childList: true, subtree: true, characterData: true})"""
    )


@pytest.mark.parametrize("size", WIDTHS)
def test_a_running_test_says_so_and_a_timeout_says_one_true_number(
    size, login_as, site, issue_certificate, fake_xero_settings, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    settings.XERO_CONNECT_TIMEOUT = 1
    settings.XERO_READ_TIMEOUT = 2
    certificate = issue_certificate(site)
    fake_xero_settings.register_private_app(site.api_key, certificate.certificate_pem)
    fake_xero_settings.fail_next("slow", seconds=5)
    page = login_as("Support", **size)
    page.goto("/sites/acme/xero/setup/")
    remember_busy_note(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Test connection").click()
    role, text = page.evaluate("JSON.parse(sessionStorage.getItem('note'))")
    assert role == "status"
    # It counts the seconds while the test runs (2 s here, the read timeout).
    assert re.fullmatch(
        r"Testing the connection with Xero: this takes 3 seconds at most\. \([12] s so far\)",
        text,
    )
    message = page.locator("#connection-test .xero-result-message").inner_text()
    # The true wait: the 2 s read timeout, plus what a loaded machine adds before noticing.
    assert re.search(r"did not answer within 2(\.\d)? seconds", message)
    assert len(re.findall(r"\d+(?:\.\d+)? seconds", message)) == 1
    assert "waited" not in message


@pytest.mark.parametrize("size", WIDTHS)
def test_issuing_a_new_certificate_shows_it_is_working(size, login_as, site, issue_certificate):
    issue_certificate(site)
    page = login_as("Admins", **size)
    page.goto(f"/admin/sites/site/{site.pk}/change/")
    remember_busy_note(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Issue a new certificate").click()
    role, text = page.evaluate("JSON.parse(sessionStorage.getItem('note'))")
    assert role == "status" and "Making the key pair and the certificate" in text


RESULTS_SCROLL = """() => {
    const results = document.querySelector("#changelist .results");
    return results.scrollWidth - results.clientWidth;
}"""


@pytest.mark.parametrize(
    "size, color_scheme",
    [({"width": 1280, "height": 900}, "light"), ({"width": 390, "height": 844}, "dark")],
    ids=["1280-light", "390-dark"],
)
def test_the_site_and_user_lists_fit_with_the_sidebar_open(
    size, color_scheme, login_as, make_site, make_user, issue_certificate, fake_xero_settings
):
    site = make_site(name="Acme Pty Ltd", code="acme", api_key="A" * 30, api_secret="s" * 30)
    site.xero_organisation_name = "Acme Holdings Pty Ltd"
    site.save()
    issue_certificate(site)
    issue_certificate(site)
    connection_test_run(site=site)  # the fake Xero does not know its key: a failure
    customer = make_user("Staff", username="carol.customer@example.com")
    customer.email = "carol.customer@example.com"
    customer.save()
    page = login_as("superuser", color_scheme=color_scheme, **size)
    for path, last_column in [
        ("/admin/sites/site/", "Xero setup"),
        ("/admin/auth/user/", "Second factor"),
    ]:
        page.goto(path)
        if size["width"] == 1280:
            assert page.locator("#nav-sidebar").is_visible()
            assert page.evaluate(RESULTS_SCROLL) <= 0, path
            header = page.locator("#result_list thead th").last
            assert header.inner_text().strip().lower() == last_column.lower()
            assert header.is_visible()
        else:
            assert page_overflow(page) == [], path


@pytest.mark.parametrize("size", WIDTHS)
def test_the_admin_pages_word_things_as_people_do(size, login_as, open_browser, screenshots):
    page = login_as("Admins", **size)
    page.goto("/admin/sites/site/")
    assert page.locator(".breadcrumbs").inner_text().split() == ["Home", "›", "Sites"]
    assert page.locator("#content h1").inner_text() == "Sites"
    with page.expect_navigation():
        page.get_by_role("link", name="Add Site").click()
    page.fill("#id_name", "Acme Pty Ltd")
    page.fill("#id_code", "acme")
    page.select_option("#id_connection_type", "custom_connection")
    page.get_by_label("Payroll enabled").uncheck()
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    said = page.locator(".messagelist").inner_text()
    assert "The Site “Acme Pty Ltd (acme)” was added" in said
    site = Site.objects.get(code="acme")

    # The trail says what the page says: the type's label, "yes" and "no".
    page.goto(f"/admin/sites/site/{site.pk}/change/")
    trail = page.locator("#audit-trail").inner_text()
    assert "Custom Connection (OAuth 2.0)" in trail and "custom_connection" not in trail
    assert "Payroll enabled: yes → no" in trail or "Payroll enabled: (empty) → no" in trail
    assert "True" not in trail and "False" not in trail
    assert page.locator(".breadcrumbs").inner_text().split()[:3] == ["Home", "›", "Sites"]
    assert "Sites › Sites" not in page.locator(".breadcrumbs").inner_text()

    # A failed login (no user) reads "—" on the page and nothing in the CSV's User column.
    stranger = open_browser(**size)
    sign_in_with_password(stranger, "nobody-at-all", "wrong-password-1")
    page.goto("/audit/?kind=login_failed")
    row = page.locator("#audit-log tbody tr").first
    assert row.locator(".audit-who").inner_text().strip() == "—"
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    table = list(csv.reader(open(download.value.path(), encoding="utf-8")))  # noqa: SIM115
    assert table[0][4] == "User" and table[1][1] == "Login failed" and table[1][4] == ""

    # A Site deleted with its one certificate: "1 certificate".
    certificate_issue(site=site)
    page.goto(f"/admin/sites/site/{site.pk}/delete/")
    page.fill("#confirm-code", "acme")
    with page.expect_navigation():
        page.get_by_role("button", name="Delete this Site").click()
    page.goto("/audit/?site=acme&kind=site_deleted")
    deleted = page.locator("#audit-log").inner_text()
    assert re.search(r"Deleted with .*\b1 certificate[,.]", deleted)
    assert not re.search(r"\b1 [a-z ]+s[,.]", deleted)

    # Logging out says so, in the Warehouse's words.
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert "You are logged out of the Warehouse." in page.content()
    assert "quality time" not in page.content()
    screenshots(page, "logged-out")


@pytest.mark.parametrize("size", WIDTHS)
def test_confirmation_pages_open_at_clean_addresses_and_certificate_buttons_are_one_size(
    size, login_as, site, issue_certificate, make_user
):
    issue_certificate(site)
    issue_certificate(site)
    membership_add(site=site, user=make_user(CUSTOMERS, username="anna@acme.example"))
    page = login_as("Admins", **size)
    page.goto(f"/admin/sites/site/{site.pk}/change/")
    copies = page.locator("#certificates").get_by_role("button", name=re.compile("^Copy"))
    assert sorted(copies.all_inner_texts()) == [
        "Copy active certificate",
        "Copy pending certificate",
    ]
    heights = page.locator("#certificates .xero-certificate .button").evaluate_all(
        "buttons => buttons.map(b => Math.round(b.getBoundingClientRect().height))"
    )
    assert len(set(heights)) == 1, heights
    # The invite form's label lines up with the panel's text.
    label = page.locator("#customers label[for=id_email]").bounding_box()
    text_starts = page.locator("#customers > p").first.evaluate(
        "p => p.getBoundingClientRect().x + parseFloat(getComputedStyle(p).paddingLeft)"
    )
    assert abs(label["x"] - text_starts) <= 1
    with page.expect_navigation():
        page.locator("#customers").get_by_role("link", name=re.compile("^Remove")).click()
    assert not page.url.endswith("?")
    assert page.get_by_role("button", name="Remove their access").count() == 1


@pytest.mark.parametrize("size", WIDTHS)
def test_an_untested_call_budget_and_a_failed_connect_read_plainly(
    size, login_as, site, issue_certificate, fake_xero_settings, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    issue_certificate(site)
    connection_test_run(site=site)  # unknown to the fake Xero: no limits known
    page = login_as("Admins", **size)
    page.goto(f"/sites/{site.code}/xero/connection-tests/")
    history = page.locator("table").filter(
        has=page.get_by_role("columnheader", name="Calls left (min/day)")
    )
    cells = history.locator("tbody tr").first.locator("td")
    assert cells.last.inner_text().strip() == "—"


def customer_of(site, *, open_browser, make_user, size, color_scheme="light"):
    """A customer of ``site``, signed in past the second factor, on its setup page."""
    customer = make_user(CUSTOMERS)
    customer.set_password(PASSWORD)
    customer.save()
    membership_add(site=site, user=customer)
    page = open_browser(color_scheme=color_scheme, **size)
    sign_in_with_password(page, customer.username)
    page.wait_for_url("**/admin/second-factor/**")
    page.fill("#id_code", totp_code(TOTPDevice.objects.get(user=customer, confirmed=True)))
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(f"/sites/{site.code}/xero/setup/")
    return page


@pytest.mark.parametrize("size", WIDTHS)
def test_the_invitation_of_a_custom_connection_site_speaks_of_its_own_details(
    size, login_as, make_site
):
    site = make_site(name="Acme Pty Ltd", code="acme", connection_type="custom_connection")
    staff = login_as("Staff", **size)
    staff.goto(f"/admin/sites/site/{site.pk}/change/")
    staff.get_by_label("Customer's email address").fill("anna@acme.example")
    with staff.expect_navigation():
        staff.get_by_role("button", name="Send invitation").click()
    (email,) = [m for m in mail.outbox if m.to == ["anna@acme.example"]]
    assert "Client ID and Client Secret" in email.body
    assert "certificate" not in email.body and "Key" not in email.body
    assert staff.user.username not in email.body and "Imagatec support" in email.body


@pytest.mark.parametrize("size", WIDTHS)
def test_a_customer_is_spoken_to_about_their_own_connection(
    size, open_browser, make_user, site, issue_certificate
):
    issue_certificate(site)
    page = customer_of(site, open_browser=open_browser, make_user=make_user, size=size)
    text = page.locator("#content").inner_text()
    assert "your Xero login" in text and "the customer's" not in text
    banner = page.locator(".xero-banner").inner_text()
    assert "switch" not in banner.lower() and "ask them" in banner
    assert page.get_by_role("link", name=re.compile("Switch this Site")).count() == 0

    web = make_site_for_web(site)
    page.goto(f"/sites/{web.code}/xero/setup/")
    text = page.locator("#content").inner_text()
    assert "Xero asks you" in text and "the customer" not in text


def make_site_for_web(site):
    """A second Site of the same customer, of the Connect to Xero type."""
    web = Site(name="Acme Web Pty Ltd", code="acme-web", connection_type="web_app")
    web.full_clean()
    web.save()
    for membership in Membership.objects.filter(site=site):
        membership_add(site=web, user=membership.user)
    return web
