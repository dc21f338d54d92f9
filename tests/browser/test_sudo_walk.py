"""A fresh second factor before a dangerous action, clicked in chromium: an Admin whose
second factor is stale presses *Issue certificate*, is asked for a code, types it, and the
certificate is issued, without pressing the button again."""

import pytest

from accounts.models import TOTPDevice
from tests.browser.conftest import page_overflow
from tests.second_factor import totp_code
from tests.sudo import ASKED, make_stale_in_browser
from xero.models import Certificate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_a_stale_second_factor_is_asked_for_then_the_certificate_is_issued(
    login_as, site, width, axe_violations, screenshots
):
    admin = login_as("Admins", width=width)
    admin.goto(f"/admin/sites/site/{site.pk}/change/")
    make_stale_in_browser(admin)

    with admin.expect_navigation():
        admin.get_by_role("button", name="Issue certificate").click()

    assert ASKED in admin.content()
    assert not Certificate.objects.filter(site=site).exists()
    assert axe_violations(admin) == []
    assert page_overflow(admin) == []
    screenshots(admin, "asked")
    device = TOTPDevice.objects.get(user=admin.user)
    admin.get_by_label("Code").fill(totp_code(device, steps=1))
    with admin.expect_navigation():
        admin.get_by_role("button", name="Confirm and continue").click()

    assert Certificate.objects.get(site=site).state == Certificate.State.ACTIVE
    assert "Certificate issued" in admin.content()
    assert admin.url.endswith(f"/admin/sites/site/{site.pk}/change/")
    screenshots(admin, "issued")
