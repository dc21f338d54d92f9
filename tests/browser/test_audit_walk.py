"""The audit trail clicked through in chromium: Staff change a Site's Key on the setup page,
Support trace it on the Site's timeline and in the global log (filter, CSV), an Admin
deletes the Site, certificates and all, and its history stays."""

import csv
import io

import pytest

from sites.models import AuditEntry, Site
from xero.models import Certificate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OLD_KEY = "QZ7KJ1M2N3B4V5C6X7Z8L9K0J1H2YC"
NEW_KEY = "NEWKEY1M2N3B4V5C6X7Z8L9K0J1H2Y"
OLD_SECRET = "LLA9S8D7F6G5H4J3K2L1Q0W9E8R7QO"
NEW_SECRET = "BROWSERSECRET9Y8X7W6V5U4T3S2R1"

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_staff_change_support_trace_it_and_an_admin_deletes_the_site(
    login_as, make_site, issue_certificate, screenshots
):
    site = make_site(name="Acme Pty Ltd", code="acme", api_key=OLD_KEY, api_secret=OLD_SECRET)
    issue_certificate(site)
    issue_certificate(site)

    # Staff change the Key (and the Secret) on the setup page.
    staff = login_as("Staff")
    staff.goto("/sites/acme/xero/setup/")
    staff.fill("#id_api_key", NEW_KEY)
    staff.fill("#id_new_api_secret", NEW_SECRET)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Save Xero Details").click()
    assert "Xero Details saved." in staff.content()
    staff_name = AuditEntry.objects.filter(kind="site_changed").get().actor_username
    timeline = staff.locator("#audit-trail")
    assert f"{OLD_KEY} → {NEW_KEY}" in timeline.inner_text()
    screenshots(staff, "staff-saved-key-setup-page")

    # Support open the Site's timeline on its admin page and filter it.
    support = login_as("Support")
    support.goto(f"/admin/sites/site/{site.pk}/change/")
    timeline = support.locator("#audit-trail")
    text = timeline.inner_text()
    assert f"Xero API Key: {OLD_KEY} → {NEW_KEY}" in text
    assert "Xero API Secret: changed" in text and staff_name in text
    assert NEW_SECRET not in support.content() and OLD_SECRET not in support.content()
    with support.expect_navigation():
        timeline.get_by_role("link", name="Site changed").click()
    rows = support.locator("#audit-trail tbody tr")
    assert rows.count() == 1 and "Site changed" in rows.first.inner_text()
    screenshots(support, "support-site-timeline-filtered")

    # ...then the log of every Site, filtered by user and kind, and its CSV.
    with support.expect_navigation():
        support.get_by_role("link", name="In the audit log of every Site").click()
    support.fill("#id_user", staff_name)
    support.select_option("#id_kind", "site_changed")
    with support.expect_navigation():
        support.get_by_role("button", name="Filter").click()
    rows = support.locator("#audit-log tbody tr")
    assert rows.count() == 1 and NEW_KEY in rows.first.inner_text()
    screenshots(support, "support-global-log-filtered")
    with support.expect_download() as download:
        support.get_by_role("link", name="Export CSV").click()
    exported = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    table = list(csv.reader(io.StringIO(exported)))
    assert table[0][:5] == ["When (UTC)", "Kind", "Site code", "Site name", "User"]
    assert len(table) == 2
    assert table[1][1:5] == ["Site changed", "acme", "Acme Pty Ltd", staff_name]
    assert f"Xero API Key: {OLD_KEY} → {NEW_KEY}" in table[1][-1]
    assert "Xero API Secret: changed" in table[1][-1]
    assert NEW_SECRET not in exported and OLD_SECRET not in exported

    # On a phone, in dark mode, the log fits the width (its table scrolls in its box).
    phone = login_as("Support", width=390, height=800)
    phone.emulate_media(color_scheme="dark")
    phone.goto("/audit/?site=acme")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    screenshots(phone, "support-global-log-phone-dark")
    phone.goto(f"/admin/sites/site/{site.pk}/change/")
    assert phone.evaluate(NO_SIDEWAYS_SCROLL)
    screenshots(phone, "support-site-timeline-phone-dark")
    phone.goto("/sites/acme/xero/setup/")
    trail = phone.locator("#audit-trail")
    assert "Site changed" in trail.inner_text()
    # The timeline itself fits (the certificate panel above it, with two certificates, is
    # wider than a phone on main already: reported to its owners).
    box = trail.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert trail.evaluate("e => e.scrollWidth <= e.clientWidth")
    screenshots(phone, "support-setup-timeline-phone-dark")

    # An Admin deletes the Site, which has two certificates, by typing its code.
    admin = login_as("Admins")
    admin.goto(f"/admin/sites/site/{site.pk}/change/")
    with admin.expect_navigation():
        admin.get_by_role("link", name="Delete", exact=True).click()
    assert "Kept:" in admin.content()
    admin.fill("#confirm-code", "acme-typo")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Delete this Site").click()
    assert "type its code exactly" in admin.content()
    assert Site.objects.filter(pk=site.pk).exists()
    screenshots(admin, "admin-mistyped-code")
    # The confirmation fits a phone in dark mode too; the deletion is confirmed there.
    admin.set_viewport_size({"width": 390, "height": 800})
    admin.emulate_media(color_scheme="dark")
    admin.fill("#confirm-code", "acme")
    assert admin.evaluate(NO_SIDEWAYS_SCROLL)
    screenshots(admin, "admin-confirms-delete-by-code-phone-dark")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Delete this Site").click()
    assert "was deleted successfully" in admin.content()
    assert not Site.objects.filter(pk=site.pk).exists()
    assert not Certificate.objects.filter(site_id=site.pk).exists()

    # Its history stays, naming it.
    support.goto("/audit/?site=acme")
    log = support.locator("#audit-log").inner_text()
    assert "Site deleted" in log and "Certificate deleted" in log and "Site changed" in log
    screenshots(support, "support-log-after-delete")
    admin.goto("/audit/?site=acme")
    assert admin.evaluate(NO_SIDEWAYS_SCROLL)
