"""xero/pausing.py: Staff pause a Site's checks and alerts; the circuit breaker tests a Site
that keeps failing the same way daily, not hourly. Against the fake Xero over HTTP."""

import datetime

import pytest
from django.utils import timezone

from customers.services import membership_add
from sites.models import AuditEntry
from xero.models import Alert, CircuitBreaker, ConnectionTest, SitePause


@pytest.fixture
def people(make_user):
    support = make_user("Support", username="sam")
    customer = make_user("Customers", username="cara")
    for user in (support, customer):
        user.email = f"{user.username}@example.com"
        user.save()
    return {"support": support, "customer": customer}


def test_staff_pause_with_a_reason_the_fleet_skips_it_and_resume_brings_it_back(
    make_private_site, fleet_check, fake_xero_settings, client_for
):
    paused, other = make_private_site(name="Paused Pty"), make_private_site(name="Other Pty")
    staff = client_for("staff")
    page = staff.get(f"/sites/{paused.code}/xero/setup/").content.decode()
    assert "Pause checks and alerts" in page

    response = staff.post(
        f"/sites/{paused.code}/xero/pause/", {"reason": "Closed for the season until March"}
    )

    assert response.status_code == 302
    assert SitePause.objects.get(site=paused).paused_by == staff.user
    entry = AuditEntry.objects.filter(site_pk=paused.pk).latest("timestamp")
    assert entry.summary == "Xero checks and alerts paused: Closed for the season until March"
    calls = len(fake_xero_settings.calls)
    fleet_check()
    assert not ConnectionTest.objects.filter(site=paused).exists()  # no call spent on it
    assert ConnectionTest.objects.filter(site=other).count() == 1
    assert len(fake_xero_settings.calls) - calls == 1
    setup = staff.get(f"/sites/{paused.code}/xero/setup/").content.decode()
    assert "Closed for the season until March" in setup and "Resume checks" in setup
    health = staff.get("/xero/health/").content.decode()
    assert "<strong>1</strong> paused by Staff" in health
    assert "Paused</strong>" in health

    staff.post(f"/sites/{paused.code}/xero/resume/")
    fleet_check()

    assert ConnectionTest.objects.filter(site=paused).count() == 1
    assert AuditEntry.objects.filter(summary="Xero checks and alerts resumed").exists()


def test_a_pause_needs_a_reason_and_customers_cannot_pause(make_private_site, client_for):
    site = make_private_site()
    response = client_for("staff").post(
        f"/sites/{site.code}/xero/pause/", {"reason": "  "}, follow=True
    )
    assert "Say why the Site&#x27;s checks are paused" in response.content.decode()
    assert not SitePause.objects.exists()

    customer = client_for("customer")
    membership_add(site=site, user=customer.user)
    assert customer.post(f"/sites/{site.code}/xero/pause/", {"reason": "x"}).status_code == 404
    assert not SitePause.objects.exists()


def test_the_fleet_summary_says_what_it_skipped(make_private_site, settings):
    from xero.fleet import fleet_checks_queue
    from xero.pausing import site_pause

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    site_pause(site=make_private_site(), reason="Customer left")
    make_private_site()

    assert fleet_checks_queue().summary() == (
        "Queued 1 Site check; 0 already queued; 0 re-queued after a worker stopped. "
        "Skipped 1 paused, 0 tested daily after failing the same way (circuit breaker), "
        "and 0 with fewer than 200 of Xero's calls left today."
    )


def test_the_same_non_transient_failure_n_times_is_tested_daily_and_told_once(
    make_site, fake_xero_settings, fleet_check, people, settings, mailoutbox, client_for
):
    settings.XERO_CIRCUIT_BREAKER_CHECKS = 3
    # A Custom Connection whose Client ID Xero does not know: invalid_client every time.
    site = make_site(
        name="Gone Pty",
        connection_type="custom_connection",
        api_key="UNKNOWNCLIENT0000000000000000000",
        api_secret="s" * 30,
    )
    membership_add(site=site, user=people["customer"])

    for _ in range(3):
        fleet_check()

    breaker = CircuitBreaker.objects.get(site=site)
    assert breaker.outcome == "invalid_client"
    [mail] = [m for m in mailoutbox if "once a day" in m.subject]
    assert mail.subject == "[Warehouse] Gone Pty: Xero link still failing, now tested once a day"
    assert sorted(mail.to) == ["cara@example.com", "sam@example.com"]
    assert "/sites/" in mail.body and "#step-" in mail.body

    calls = len(fake_xero_settings.calls)
    fleet_check()  # within the day: skipped, no call
    assert ConnectionTest.objects.filter(site=site).count() == 3
    assert len(fake_xero_settings.calls) == calls

    CircuitBreaker.objects.update(next_check_at=timezone.now() - datetime.timedelta(seconds=1))
    fleet_check()  # the daily retry: tested, still failing, told no more
    assert ConnectionTest.objects.filter(site=site).count() == 4
    assert CircuitBreaker.objects.get(site=site).next_check_at > timezone.now()
    assert Alert.objects.filter(kind="circuit").count() == 1
    assert len([m for m in mailoutbox if "once a day" in m.subject]) == 1

    # Someone acts (tests it by hand): hourly checks again.
    client_for("support").post(f"/sites/{site.code}/xero/connection-test/")
    assert not CircuitBreaker.objects.exists()
