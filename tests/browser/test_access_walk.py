"""Access in chromium: enrol at the first sign-in, sign in with a code, a recovery code once,
the authenticator slowed by wrong codes, a lockout after five wrong codes, a superuser's
reset, the CSP blocking an injected script, and the error pages."""

import re

import pytest
from django.utils import timezone

from accounts.models import TOTPDevice
from tests.browser.conftest import no_horizontal_scroll, sign_in_with_password
from tests.second_factor import totp_code, wrong_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A wrong code is refused as wrong, or, straight after another, because the authenticator
# waits (django-otp's throttling); either way it counts towards the lockout.
CODE_REFUSALS = ("That code is not right", "Too many wrong codes in a row")


def submit_code(page, code):
    page.fill("#id_code", code)
    with page.expect_navigation():
        page.click("input[type=submit]")


def test_first_sign_in_enrols_then_codes_recovery_codes_and_lockout(
    login_as, open_browser, screenshots
):
    page = login_as("Admins", second_factor=False)
    user = page.user
    # Until enrolled, the enrolment page is the only one: the Site list sends back to it.
    page.goto("/admin/sites/site/")
    assert "/admin/second-factor/enrol/" in page.url
    assert page.locator("#enrol-qr svg").is_visible()
    device = TOTPDevice.objects.get(user=user)
    assert page.locator("#enrol-secret").inner_text() == device.secret_base32
    assert no_horizontal_scroll(page)
    screenshots(page, "enrol-qr-and-key")

    submit_code(page, wrong_code(device))
    assert "That code is not right" in page.content()
    submit_code(page, totp_code(device))
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    screenshots(page, "recovery-codes-shown-once")
    page.click("#recovery-codes-continue")
    page.wait_for_url("**/admin/sites/site/")
    # Shown once: the enrolment page now sends to the Site list, with neither key nor codes.
    page.goto("/admin/second-factor/enrol/")
    assert device.secret_base32 not in page.content()
    assert not any(code in page.content() for code in codes)

    # Sign in again with a code (the next time step: a code is accepted only once).
    again = open_browser()
    sign_in_with_password(again, user.username)
    again.wait_for_url("**/admin/second-factor/**")
    screenshots(again, "code-asked-after-password")
    submit_code(again, totp_code(device, steps=1))
    assert again.url.endswith("/admin/")

    # A recovery code works once.
    lost_phone = open_browser()
    sign_in_with_password(lost_phone, user.username)
    lost_phone.wait_for_url("**/admin/second-factor/**")
    submit_code(lost_phone, codes[0])
    assert "9 left" in lost_phone.content()
    screenshots(lost_phone, "signed-in-with-a-recovery-code")
    reuse = open_browser()
    sign_in_with_password(reuse, user.username)
    reuse.wait_for_url("**/admin/second-factor/**")
    submit_code(reuse, codes[0])
    assert "That code is not right" in reuse.content()
    screenshots(reuse, "recovery-code-reused-refused")

    # Wrong codes from other addresses have slowed the authenticator down: even the right
    # code is not taken until the wait is over, and the page says how long.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=10, throttling_failure_timestamp=timezone.now()
    )
    submit_code(reuse, totp_code(device, steps=2))
    assert "Too many wrong codes in a row" in reuse.content()
    assert "/admin/second-factor/" in reuse.url
    screenshots(reuse, "authenticator-throttled")

    # Two more wrong codes and one last (five tries in all) lock this username out from this
    # address.
    for _ in range(2):
        submit_code(reuse, wrong_code(device))
        assert any(refusal in reuse.content() for refusal in CODE_REFUSALS)
    submit_code(reuse, wrong_code(device))
    assert "Too many failed attempts" in reuse.content()
    assert reuse.locator("#retry-at").is_visible()
    screenshots(reuse, "locked-out")
    # No code can even be typed now, and the right password is refused too.
    reuse.goto("/admin/second-factor/")
    assert "Too many failed attempts" in reuse.content()
    assert reuse.locator("#id_code").count() == 0
    locked = open_browser()
    sign_in_with_password(locked, user.username)
    assert "Too many failed attempts" in locked.content()


def test_locked_out_page_on_a_phone_in_dark_mode(login_as, open_browser, screenshots):
    page = login_as("Staff", width=390, height=844, color_scheme="dark")
    device = TOTPDevice.objects.get(user=page.user)
    phone = open_browser(width=390, height=844, color_scheme="dark")
    sign_in_with_password(phone, page.user.username)
    phone.wait_for_url("**/admin/second-factor/**")
    assert no_horizontal_scroll(phone)
    screenshots(phone, "code-page-phone-dark")
    for _ in range(5):
        submit_code(phone, wrong_code(device))
    assert "Too many failed attempts" in phone.content()
    assert no_horizontal_scroll(phone)
    screenshots(phone, "locked-out-phone-dark")


def test_enrolment_on_a_phone_in_dark_mode_fits_the_screen(login_as, screenshots):
    page = login_as("Staff", width=390, height=844, color_scheme="dark", second_factor=False)
    assert page.locator("#enrol-qr svg").is_visible()
    assert no_horizontal_scroll(page)
    screenshots(page, "enrol-phone-dark")
    device = TOTPDevice.objects.get(user=page.user)
    submit_code(page, totp_code(device))
    assert page.locator("#recovery-codes code").count() == 10
    assert no_horizontal_scroll(page)
    screenshots(page, "recovery-codes-phone-dark")


def test_a_superuser_resets_a_second_factor_and_the_user_enrols_again(
    login_as, make_user, screenshots
):
    boss = login_as("superuser")
    kim = login_as("Staff")
    boss.goto("/admin/auth/user/")
    boss.get_by_role("row", name=re.compile(kim.user.username)).get_by_role("checkbox").check()
    boss.select_option("select[name=action]", "reset_second_factor")
    with boss.expect_navigation():
        boss.get_by_role("button", name="Go").click()
    assert "Reset the second factor of 1 user" in boss.content()
    screenshots(boss, "second-factor-reset")
    assert not TOTPDevice.objects.filter(user=kim.user).exists()
    # Kim's open session is signed out; after the password, Kim enrols again.
    kim.goto("/admin/sites/site/")
    assert "/admin/login/" in kim.url
    sign_in_with_password(kim, kim.user.username)
    kim.wait_for_url("**/admin/second-factor/enrol/**")
    screenshots(kim, "enrol-again-after-reset")


def test_the_policy_blocks_an_injected_inline_script(login_as, make_site, screenshots):
    site = make_site(code="acme")
    page = login_as("superuser")
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto("/xero/health/")
    page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.injected = true';
            document.body.appendChild(script);
        }"""
    )
    assert page.evaluate("window.injected") is None
    assert any("Content Security Policy" in text and "script-src" in text for text in messages)
    # The admin's own pages still work under the policy: no violation on them.
    messages.clear()
    for url in [
        "/admin/",
        "/admin/sites/site/",
        "/admin/sites/site/add/",
        f"/admin/sites/site/{site.pk}/change/",
        "/sites/acme/xero/setup/",
        "/admin/auth/user/",
        f"/admin/auth/user/{page.user.pk}/change/",
        "/admin/axes/accessattempt/",
    ]:
        page.goto(url)
        page.wait_for_load_state("load")
    assert not [text for text in messages if "Content Security Policy" in text]
    screenshots(page, "csp-admin-pages-work")


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop", "phone-dark"]
)
def test_error_pages_lead_back_to_the_site_list(login_as, make_site, screenshots, width, scheme):
    make_site(code="acme")
    page = login_as(None, width=width, color_scheme=scheme)  # in no group: 403 everywhere
    page.goto("/sites/acme/xero/setup/")
    assert "You are not allowed to do that" in page.content()
    assert no_horizontal_scroll(page)
    screenshots(page, "403")
    page.goto("/no/such/page/")
    assert "There is nothing at this address" in page.content()
    screenshots(page, "404")
    with page.expect_navigation():
        page.click("#back-to-sites")
    assert page.url.endswith("/admin/sites/site/")


def test_a_browser_whose_user_lost_staff_status_can_do_nothing(login_as, make_site, screenshots):
    from xero.models import Certificate

    make_site(code="acme")
    page = login_as("Admins")
    page.goto("/sites/acme/xero/setup/")
    issue = page.get_by_role("button", name="Issue certificate")
    assert issue.count() >= 1
    page.user.is_staff = False
    page.user.save()
    with page.expect_navigation():
        issue.first.click()
    assert "/admin/login/" in page.url
    assert not Certificate.objects.exists()
    page.goto("/xero/health/")
    assert "/admin/login/" in page.url
    screenshots(page, "no-staff-status-sent-to-login")
