"""xero/incidents.py: a Xero outage that fails every Site at once is one incident alert, not
one per Site, against the fake Xero's outage over HTTP."""

import pytest

from xero.models import Alert, XeroIncident


@pytest.fixture
def staff_emails(make_user):
    for role, name in (("Admins", "ann"), ("Support", "sue")):
        user = make_user(role, username=name)
        user.email = f"{name}@example.com"
        user.save()


@pytest.fixture
def fleet(make_private_site, settings):
    settings.XERO_INCIDENT_SITES = 3
    return [make_private_site() for _ in range(4)]


def test_an_outage_of_every_site_is_one_incident_alert_held_until_tests_pass_again(
    fleet, fleet_check, fake_xero_settings, staff_emails, mailoutbox, client_for
):
    fleet_check()
    fake_xero_settings.outage = True

    fleet_check()

    assert [mail.subject for mail in mailoutbox] == [
        "[Warehouse] Xero incident: 4 Sites cannot reach Xero"
    ]
    assert mailoutbox[0].to == ["ann@example.com", "sue@example.com"]
    assert "Xero unavailable: 4" in mailoutbox[0].body
    assert not Alert.objects.filter(kind="failing").exists()  # held
    page = client_for("support").get("/xero/health/").content.decode()
    assert "Xero incident" in page and "4 Sites cannot reach Xero" in page

    fleet_check()  # still out: nothing more
    assert len(mailoutbox) == 1
    fake_xero_settings.outage = False
    fake_xero_settings.fail_next("unavailable")  # one Site still fails after it ends

    fleet_check()

    subjects = [mail.subject for mail in mailoutbox[1:]]
    assert subjects[0] == "[Warehouse] Xero incident over: tests pass again"
    # The Site still failing once the incident closed alerts as usual, alone.
    assert [s for s in subjects if "failing" in s] == [
        f"[Warehouse] {fleet[0]}: Xero connection test failing"
    ]
    incident = XeroIncident.objects.get()
    assert not incident.open and incident.closed_at is not None
    assert incident.sites_failing == 4
    assert "is over" in client_for("support").get("/xero/health/").content.decode()


def test_a_few_sites_failing_as_xero_does_is_no_incident(
    fleet, fleet_check, fake_xero_settings, staff_emails, mailoutbox
):
    fleet_check()
    fake_xero_settings.fail_next("unavailable", count=2)

    fleet_check()

    assert not XeroIncident.objects.exists()
    assert len([m for m in mailoutbox if "failing" in m.subject]) == 2
