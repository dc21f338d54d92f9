"""Alerts to the Admins (xero/fleet_alerts.py): one email per transition, not one per run."""

import datetime

import pytest
from django.utils import timezone

from sites.models import Site
from xero.fleet_alerts import fleet_alerts_send
from xero.models import ConnectionTest


@pytest.fixture
def admin_emails(make_user):
    for role, name in (("Admins", "ann"), ("Admins", "bob"), ("Support", "sue")):
        user = make_user(role, username=name)
        user.email = f"{name}@example.com"
        user.save()
    return ["ann@example.com", "bob@example.com"]


def record(site, outcome, minutes_ago):
    return ConnectionTest.objects.create(
        site=site,
        outcome=outcome,
        message=f"Outcome {outcome}.",
        connection_type=site.connection_type,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


def test_a_site_that_starts_failing_is_told_to_the_admins_once(site, admin_emails, mailoutbox):
    record(site, "ok", 30)
    record(site, "signature_invalid", 20)
    assert len(fleet_alerts_send(site=site)) == 1
    record(site, "signature_invalid", 10)
    assert fleet_alerts_send(site=site) == []
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == admin_emails
    assert "failing" in mailoutbox[0].subject
    assert "Outcome signature_invalid." in mailoutbox[0].body


def test_failing_again_after_passing_again_is_a_new_transition(site, admin_emails, mailoutbox):
    record(site, "ok", 40)
    record(site, "forbidden", 30)
    fleet_alerts_send(site=site)
    record(site, "ok", 20)
    assert fleet_alerts_send(site=site) == []
    record(site, "timeout", 10)
    fleet_alerts_send(site=site)
    assert len(mailoutbox) == 2


def test_no_alert_for_a_site_that_never_passed_or_only_met_a_rate_limit(
    site, admin_emails, mailoutbox
):
    record(site, "credentials_missing", 10)
    fleet_alerts_send(site=site)
    other = site.__class__.objects.create(name="Other", code="other")
    record(other, "ok", 20)
    record(other, "rate_limited", 10)
    fleet_alerts_send(site=other)
    assert mailoutbox == []


def test_a_certificate_entering_its_last_60_days_is_told_once(
    site, issue_certificate, admin_emails, mailoutbox
):
    issue_certificate(site, days=30)
    assert len(fleet_alerts_send(site=site)) == 1
    assert fleet_alerts_send(site=site) == []
    assert len(mailoutbox) == 1
    assert "expires in 29 days" in mailoutbox[0].subject


def test_a_certificate_far_from_expiry_is_not_told(
    site, issue_certificate, admin_emails, mailoutbox
):
    issue_certificate(site, days=365)
    assert fleet_alerts_send(site=site) == []
    assert mailoutbox == []


def test_a_site_name_with_a_line_break_still_gets_its_alert_on_one_header_line(
    site, admin_emails, mailoutbox
):
    # A name saved before names were validated (the migration cleans those; this is the
    # alert's own guard).
    Site.objects.filter(pk=site.pk).update(name="Acme\r\nBcc: everyone@example.com")
    site.refresh_from_db()
    record(site, "ok", 30)
    record(site, "signature_invalid", 20)

    alerts = fleet_alerts_send(site=site)

    assert len(alerts) == 1 and len(mailoutbox) == 1
    subject = mailoutbox[0].subject
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("[Warehouse] Acme Bcc: everyone@example.com (acme)")
    assert mailoutbox[0].to == admin_emails


def test_the_alert_names_the_outcome_by_its_label(site, admin_emails, mailoutbox):
    record(site, "ok", 30)
    record(site, "consumer_key_unknown", 20)
    fleet_alerts_send(site=site)
    assert "now fails: Consumer Key unknown." in mailoutbox[0].body
