"""The walk of issue 22, pressed again in chromium: the audit log, the header, the messages
and the wording a role meets on the way, at 1280 px and 390 px."""

import re

import pytest

from tests.browser.conftest import page_overflow

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
    assert "did not answer within 2 seconds" in message
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
    from xero.services import connection_test_run

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
