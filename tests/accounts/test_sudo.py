"""A fresh second factor before anything dangerous (warehouse/sudo.py, accounts/sudo.py):
each action asks for a code when the session's second factor is older than
FRESH_SECOND_FACTOR_MINUTES, then completes with the data that was submitted; with a fresh
one it goes straight through. (Disconnecting: tests/xero/test_views_sudo.py.)"""

import datetime
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import TOTPDevice
from api.models import ApiCredential
from customers.models import Invitation
from sites.models import Site
from tests.second_factor import wrong_code
from tests.sudo import ASKED, answer, make_stale, pending_id
from warehouse.sudo import PASSED_AT_KEY
from xero.models import Certificate

pytestmark = pytest.mark.django_db

NEW_SECRET = "NEWSECRET0123456789ABCDEFGHIJK"


def _site_details(site, **overrides):
    return {
        "name": site.name,
        "code": site.code,
        "connection_type": site.connection_type,
        "api_key": site.api_key,
        "payroll_enabled": "on",
        **overrides,
    }


def _issue(site, **_):
    return reverse("xero:certificate_issue", args=[site.code]), {"key_size": "2048", "days": "30"}


def _issued(site, **_):
    return Certificate.objects.filter(site=site).exists()


def _activate(site, *, issue_certificate, **_):
    issue_certificate(site)
    pending = issue_certificate(site)
    return reverse("xero:certificate_activate", args=[site.code, pending.pk]), {}


def _activated(site, **_):
    return Certificate.objects.filter(site=site, state=Certificate.State.ACTIVE).count() == 1 and (
        Certificate.objects.filter(site=site).latest("pk").state == Certificate.State.ACTIVE
    )


def _secret_on_setup_page(site, **_):
    url = reverse("xero:setup", args=[site.code])
    return url, {"api_key": site.api_key, "new_api_secret": NEW_SECRET, "payroll_enabled": "on"}


def _secret_in_admin(site, **_):
    url = reverse("admin:sites_site_change", args=[site.pk])
    return url, _site_details(site, new_api_secret=NEW_SECRET)


def _secret_changed(site, **_):
    site.refresh_from_db()
    return site.api_secret == NEW_SECRET


def _delete(site, **_):
    url = reverse("admin:sites_site_delete", args=[site.pk])
    return url, {"post": "yes", "confirm_code": site.code}


def _deleted(site, **_):
    return not Site.objects.filter(pk=site.pk).exists()


def _reset(site, *, make_user, **_):
    _reset.victim = make_user("Staff")  # type: ignore[attr-defined]
    url = reverse("admin:auth_user_changelist")
    return url, {"action": "reset_second_factor", "_selected_action": [_reset.victim.pk]}  # type: ignore[attr-defined]


def _was_reset(site, **_):
    return not TOTPDevice.objects.filter(user=_reset.victim).exists()  # type: ignore[attr-defined]


def _credential(site, **_):
    data = {"name": "Interconnect", "scopes": ["status"], "sites": [site.code], "days": "90"}
    return reverse("admin:api_apicredential_add"), data


def _credential_created(site, **_):
    return ApiCredential.objects.filter(name="Interconnect").exists()


def _invite(site, **_):
    return reverse("customers:invite", args=[site.code]), {"email": "anna@example.com"}


def _invited(site, **_):
    return Invitation.objects.filter(email="anna@example.com").exists()


# (what, who does it, the request, whether it was done)
ACTIONS = [
    ("issue a certificate", "admins", _issue, _issued),
    ("activate a certificate", "admins", _activate, _activated),
    ("change the API Secret on the setup page", "staff", _secret_on_setup_page, _secret_changed),
    ("change the API Secret in the admin", "staff", _secret_in_admin, _secret_changed),
    ("delete a Site", "admins", _delete, _deleted),
    ("reset a second factor", "superuser", _reset, _was_reset),
    ("create an API credential", "admins", _credential, _credential_created),
    ("invite a customer", "staff", _invite, _invited),
]
IDS = [action[0] for action in ACTIONS]


@pytest.fixture
def action(request, client_for, site, make_user, issue_certificate):
    what, role, build, done = request.param
    client = client_for(role)
    url, data = build(site, make_user=make_user, issue_certificate=issue_certificate)
    return client, url, data, lambda: done(site)


@pytest.mark.parametrize("action", ACTIONS, ids=IDS, indirect=True)
def test_without_a_fresh_second_factor_it_asks_then_completes_with_the_data_kept(action):
    client, url, data, done = action
    make_stale(client)

    asked = client.post(url, data)

    assert asked.status_code == 200 and ASKED in asked.text
    assert not done()
    assert NEW_SECRET not in asked.text
    finished = answer(client, asked.text, user=client.user)
    assert finished.status_code in (200, 302) and ASKED not in finished.text
    assert done()


@pytest.mark.parametrize("action", ACTIONS, ids=IDS, indirect=True)
def test_with_a_fresh_second_factor_it_goes_straight_through(action):
    client, url, data, done = action

    response = client.post(url, data)

    assert ASKED not in response.text
    assert done()


@pytest.mark.parametrize("action", ACTIONS[:1] + ACTIONS[-1:], ids=[IDS[0], IDS[-1]], indirect=True)
def test_the_factor_is_fresh_for_the_setting_s_minutes_then_stale(action, settings):
    client, url, data, done = action
    settings.FRESH_SECOND_FACTOR_MINUTES = 10

    make_stale(client, seconds_past=1)  # 10 minutes and a second ago
    assert ASKED in client.post(url, data).text
    assert not done()

    session = client.session
    session[PASSED_AT_KEY] = time.time() - 9 * 60
    session.save()
    assert ASKED not in client.post(url, data).text
    assert done()


def test_a_wrong_code_asks_again_and_the_kept_data_still_completes(client_for, site):
    client = client_for("staff")
    make_stale(client)
    url, data = _invite(site)
    asked = client.post(url, data)
    device = TOTPDevice.objects.get(user=client.user)

    again = answer(client, asked.text, user=client.user, code=wrong_code(device))

    assert ASKED in again.text and "code" in again.text.lower()
    assert pending_id(again.text) == pending_id(asked.text)
    assert not _invited(site)
    # django-otp makes the device wait a second after a wrong code: that second has passed.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - datetime.timedelta(seconds=5)
    )
    answer(client, again.text, user=client.user)
    assert _invited(site)


def test_a_kept_request_is_used_once(client_for, site):
    client = client_for("staff")
    make_stale(client)
    url, data = _invite(site)
    asked = client.post(url, data)
    answer(client, asked.text, user=client.user)

    replayed = answer(client, asked.text, user=client.user, steps=2)

    assert replayed.status_code == 302 and Invitation.objects.count() == 1
    assert "Nothing was done with that code" in client.get(replayed["Location"], follow=True).text


def test_asking_on_a_get_comes_back_to_the_page_after_the_code(client_for):
    client = client_for("admins")
    make_stale(client)
    url = reverse("admin:api_apicredential_add")

    asked = client.get(url)
    back = answer(client, asked.text, user=client.user)

    assert ASKED in asked.text and back.status_code == 302 and back["Location"] == url
    assert "Create an API credential" in client.get(url).text


def test_without_required_second_factor_nothing_is_asked(client_for, site, settings):
    settings.REQUIRE_TWO_FACTOR = False
    client = client_for("staff", second_factor="not_enrolled")
    url, data = _invite(site)

    response = client.post(url, data)

    assert ASKED not in response.text and _invited(site)


def test_a_recovery_code_works_too_and_is_used_up(client_for, site):
    from accounts.services import recovery_codes_replace

    client = client_for("admins")
    codes = recovery_codes_replace(user=client.user)
    make_stale(client)
    url, data = _issue(site)

    done = answer(client, client.post(url, data).text, user=client.user, code=codes[0])

    assert done.status_code == 302 and _issued(site)
    make_stale(client)
    again = answer(client, client.post(url, data).text, user=client.user, code=codes[0])
    assert ASKED in again.text and Certificate.objects.filter(site=site).count() == 1
