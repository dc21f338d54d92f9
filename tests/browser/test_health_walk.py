"""The health page, clicked through in chromium: filter, select, queue tests, run them."""

import csv

import pytest
from playwright.sync_api import expect

from xero.fleet import fleet_chunk_run
from xero.models import ConnectionTest, QueuedCheck
from xero.services import connection_test_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_support_finds_failing_sites_and_queues_their_tests(
    login_as, make_site, issue_certificate, fake_xero_settings, screenshots, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    failing = make_site(name="Broken Pty Ltd", api_key="A" * 30, api_secret="s" * 30)
    issue_certificate(failing)
    connection_test_run(site=failing)  # the fake Xero does not know its key
    make_site(name="Quiet Pty Ltd")

    support = login_as("Support")
    support.goto("/xero/health/")
    with support.expect_navigation():
        support.get_by_role("link", name="Failing").click()
    rows = support.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Broken Pty Ltd" in rows.first.inner_text()
    # Every column can be brought into view; none stays hidden under the filter box.
    covered = support.evaluate(
        """[...document.querySelectorAll('#result_list thead th')].filter(th => {
            th.scrollIntoView({block: 'nearest', inline: 'nearest'});
            const box = th.getBoundingClientRect();
            const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return !th.contains(top);
        }).map(th => th.textContent)"""
    )
    assert covered == []
    support.get_by_label("Select Broken Pty Ltd").check()
    screenshots(support, "failing-selected")
    with support.expect_navigation():
        support.get_by_role("button", name="Test selected").click()
    assert "Queued 1 Site test" in support.content()
    chunk = str(QueuedCheck.objects.get(site=failing).chunk)

    # The worker runs the queued test; Xero now knows the key, so the Site recovers.
    fake_xero_settings.register_private_app(
        failing.api_key, failing.certificates.get().certificate_pem
    )
    assert fleet_chunk_run(chunk=chunk) == {"ok": 1}
    support.reload()
    assert "Broken Pty Ltd" not in support.locator("#result_list").inner_text()
    screenshots(support, "recovered")


def test_staff_see_the_health_page_without_bulk_actions(login_as, make_site):
    make_site(name="Some Pty Ltd")
    staff = login_as("Staff")
    staff.goto("/xero/health/")
    assert "Some Pty Ltd" in staff.content()
    assert staff.get_by_role("button", name="Test selected").count() == 0


def test_select_all_ticks_every_site_on_the_page_and_queues_them(login_as, make_site):
    for number in range(3):
        make_site(name=f"Shop {number} Pty Ltd")
    support = login_as("Support")
    support.goto("/xero/health/")
    support.get_by_label("Select all Sites on this page").check()
    boxes = support.locator("input[name=sites]")
    assert [boxes.nth(i).is_checked() for i in range(boxes.count())] == [True] * 3
    support.get_by_label("Select Shop 1 Pty Ltd").uncheck()
    assert support.get_by_label("Select all Sites on this page").evaluate(
        "box => box.indeterminate"
    )
    support.get_by_label("Select all Sites on this page").check()
    with support.expect_navigation():
        support.get_by_role("button", name="Test selected").click()
    assert QueuedCheck.objects.count() == 3


def test_queued_results_appear_without_a_reload(
    login_as, make_site, issue_certificate, fake_xero_settings, settings
):
    settings.XERO_TEST_COOLDOWN = 0
    site = make_site(name="Waiting Pty Ltd", api_key="B" * 30, api_secret="s" * 30)
    fake_xero_settings.register_private_app(site.api_key, issue_certificate(site).certificate_pem)
    support = login_as("Support")
    support.goto("/xero/health/")
    support.get_by_label("Select Waiting Pty Ltd").check()
    with support.expect_navigation():
        support.get_by_role("button", name="Test selected").click()
    cell = support.locator("tr", has_text="Waiting Pty Ltd").locator(".xero-last-test")
    expect(cell).to_contain_text("test queued")
    fleet_chunk_run(chunk=str(QueuedCheck.objects.get(site=site).chunk))
    # No reload: the page's script asks the status view and updates the row.
    expect(cell).to_contain_text("✓ Passed", timeout=20_000)
    expect(cell).not_to_contain_text("test queued")


def test_the_site_list_filters_by_health(login_as, make_site, issue_certificate, settings):
    settings.XERO_TEST_COOLDOWN = 0
    failing = make_site(name="Broken Pty Ltd", api_key="A" * 30, api_secret="s" * 30)
    ConnectionTest.objects.create(
        site=failing, connection_type="private_app", outcome="consumer_key_unknown"
    )
    make_site(name="Quiet Pty Ltd")
    staff = login_as("Staff")
    staff.goto("/admin/sites/site/")
    filters = staff.locator("#changelist-filter")
    for name, shown in [("Failing", ["Broken Pty Ltd"]), ("Never tested", ["Quiet Pty Ltd"])]:
        with staff.expect_navigation():
            filters.get_by_role("link", name=name).click()
        assert staff.locator("#result_list tbody th").all_inner_texts() == shown


def test_the_csv_export_holds_the_filtered_view_with_formulas_defused(
    login_as, make_site, tmp_path
):
    failing = make_site(name="Broken Pty Ltd", xero_organisation_name='=HYPERLINK("x")')
    ConnectionTest.objects.create(
        site=failing, connection_type="private_app", outcome="consumer_key_unknown"
    )
    make_site(name="Quiet Pty Ltd")
    staff = login_as("Staff")
    staff.goto("/xero/health/?filter=failing")
    with staff.expect_download() as download:
        staff.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.startswith("xero-health-failing-")
    path = tmp_path / "health.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [row["Site"] for row in rows] == ["Broken Pty Ltd"]
    assert rows[0]["Last test outcome"] == "Consumer Key unknown"
    assert rows[0]["Outcome code"] == "consumer_key_unknown"
    assert rows[0]["Xero organisation"] == '\'=HYPERLINK("x")'


def test_a_sites_full_history_pages_through_every_test(login_as, site):
    ConnectionTest.objects.bulk_create(
        ConnectionTest(site=site, connection_type="private_app", outcome="rate_limited")
        for _ in range(62)
    )
    staff = login_as("Staff")
    staff.goto(f"/admin/sites/site/{site.pk}/change/")
    staff.get_by_text("Last 10 tests").click()
    with staff.expect_navigation():
        staff.get_by_role("link", name="Every test of this Site").click()
    assert "62 tests" in staff.content()
    assert staff.locator(".xero-history tbody tr").count() == 50
    with staff.expect_navigation():
        staff.get_by_role("link", name="Older ›").click()
    assert staff.locator(".xero-history tbody tr").count() == 12


@pytest.mark.parametrize(("width", "scheme"), [(1280, "light"), (390, "dark")])
def test_outcomes_read_by_their_labels_in_three_colours(
    login_as, make_site, screenshots, width, scheme
):
    from django.utils import timezone

    for name, outcome in (("Good", "ok"), ("Bad", "consumer_key_unknown"), ("Busy", "running")):
        site = make_site(name=f"{name} Pty Ltd")
        ConnectionTest.objects.create(
            site=site, outcome=outcome, connection_type=site.connection_type,
            started_at=timezone.now(),
        )  # fmt: skip
    staff = login_as("Staff", width=width)
    staff.emulate_media(color_scheme=scheme)
    staff.goto("/xero/health/")
    text = staff.locator("#result_list").inner_text()
    assert "✓ Passed" in text and "✗ Consumer Key unknown" in text and "Running…" in text
    assert "consumer_key_unknown" not in text
    colours = staff.evaluate(
        """['ok', 'failed', 'neutral'].map(tone =>
            getComputedStyle(document.querySelector('.xero-outcome.xero-' + tone)).color)"""
    )
    background = staff.evaluate("getComputedStyle(document.body).backgroundColor")
    assert len(set(colours)) == 3 and background not in colours
    assert staff.evaluate("document.documentElement.scrollWidth") <= width
    screenshots(staff, f"outcomes-{width}-{scheme}")
