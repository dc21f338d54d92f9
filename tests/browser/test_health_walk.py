"""The health page, clicked through in chromium: filter, select, queue tests, run them."""

import pytest

from xero.fleet import fleet_chunk_run
from xero.models import QueuedCheck
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


@pytest.mark.parametrize(("width", "scheme"), [(1280, "light"), (390, "dark")])
def test_outcomes_read_by_their_labels_in_three_colours(
    login_as, make_site, screenshots, width, scheme
):
    from django.utils import timezone

    from xero.models import ConnectionTest

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
