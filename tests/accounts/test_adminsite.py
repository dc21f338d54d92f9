"""The admin's gate (active + staff + second factor) in front of every Warehouse page.

The roles matrix of docs/security.md, each role x action cell with a verified second factor (the
role decides) and without one (enrolled but not verified, or not enrolled: nothing happens,
the user is sent to the second factor).
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from sites.models import Site
from tests.conftest import CONSUMER_KEY
from tests.second_factor import NOT_ENROLLED, UNVERIFIED
from tests.xero.conftest import fake_xero, fake_xero_settings  # noqa: F401
from xero.models import Certificate, CertificateEvent, ConnectionTest

LOGIN = reverse("admin:login")
ROLES = ["staff", "admins", "support", "nobody", "superuser"]
EVERYONE = {"staff", "admins", "support", "superuser"}


@dataclass
class Action:
    method: str
    url: Callable
    allowed: set
    data: dict | None = None


def _site_url(name):
    return lambda site, certificate: reverse(name, args=[site.code])


ACTIONS = {
    "see the Site list": Action(
        "get", lambda s, c: reverse("admin:sites_site_changelist"), EVERYONE
    ),
    "see a Site's page": Action(
        "get", lambda s, c: reverse("admin:sites_site_change", args=[s.pk]), EVERYONE
    ),
    "add a Site": Action(
        "get", lambda s, c: reverse("admin:sites_site_add"), {"admins", "superuser"}
    ),
    "open the setup page": Action("get", _site_url("xero:setup"), EVERYONE),
    "edit the Xero details": Action(
        "post",
        _site_url("xero:setup"),
        {"staff", "admins", "superuser"},
        {"api_key": "NEWKEY" + CONSUMER_KEY[6:], "payroll_enabled": ""},
    ),
    "switch to a Custom Connection": Action(
        "post", _site_url("xero:switch_to_custom_connection"), {"staff", "admins", "superuser"}
    ),
    "issue a certificate": Action(
        "post",
        _site_url("xero:certificate_issue"),
        {"admins", "superuser"},
        {"key_size": "2048", "days": "1825"},
    ),
    "promote a pending certificate": Action(
        "post",
        lambda s, c: reverse("xero:certificate_activate", args=[s.code, c.pk]),
        {"admins", "superuser"},
    ),
    "download the public certificate": Action(
        "get",
        lambda s, c: reverse("xero:certificate_download", args=[s.code, c.pk]),
        {"admins", "superuser"},
    ),
    "run a connection test": Action(
        "post", _site_url("xero:connection_test"), {"admins", "support", "superuser"}
    ),
    "see the health page": Action("get", lambda s, c: reverse("xero:health"), EVERYONE),
    "queue tests from the health page": Action(
        "post",
        lambda s, c: reverse("xero:health"),
        {"admins", "support", "superuser"},
        {"action": "test_failing"},
    ),
}


@pytest.fixture
def world(site, issue_certificate, fake_xero_settings, settings):  # noqa: F811
    """A Site with an active and a pending certificate, tasks kept in memory."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    issue_certificate(site)
    pending = issue_certificate(site)
    assert pending.state == Certificate.State.PENDING
    return site, pending


def snapshot():
    """What any of the actions would change."""
    return (
        list(Site.objects.values_list("api_key", "connection_type", "name")),
        list(Certificate.objects.values_list("pk", "state")),
        CertificateEvent.objects.count(),
        ConnectionTest.objects.count(),
    )


def perform(client, action, site, certificate):
    method = getattr(client, action.method)
    return method(action.url(site, certificate), action.data or {})


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action_name", list(ACTIONS))
def test_with_a_verified_second_factor_the_role_decides(client_for, world, role, action_name):
    action = ACTIONS[action_name]
    client = client_for(role)
    response = perform(client, action, *world)
    if role in action.allowed:
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 302:
            assert not response.url.startswith(LOGIN)
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("state", [UNVERIFIED, NOT_ENROLLED])
@pytest.mark.parametrize("role", ROLES)
def test_without_a_verified_second_factor_no_action_happens(client_for, world, role, state):
    client = client_for(role, second_factor=state)
    second_factor_page = reverse(
        "admin:second_factor" if state == UNVERIFIED else "admin:second_factor_enrol"
    )
    before = snapshot()
    for name, action in ACTIONS.items():
        response = perform(client, action, *world)
        assert response.status_code == 302 and response.url.startswith(LOGIN), name
        assert client.get(response.url).url.startswith(second_factor_page), name
    assert snapshot() == before


def _lose_staff_status(user):
    user.is_staff = False
    user.save()


def _deactivate(user):
    user.is_active = False
    user.save()


def _change_password_elsewhere(user):
    user.set_password("a-brand-new-password-7")
    user.save()


@pytest.mark.parametrize(
    "change",
    [_lose_staff_status, _deactivate, _change_password_elsewhere],
    ids=["lost staff status", "deactivated", "password changed elsewhere"],
)
def test_a_session_whose_user_changed_can_do_nothing(client_for, world, change):
    client = client_for("superuser")
    assert client.get(reverse("xero:health")).status_code == 200
    change(client.user)
    before = snapshot()
    for name, action in ACTIONS.items():
        response = perform(client, action, *world)
        assert response.status_code == 302 and response.url.startswith(LOGIN), name
    assert snapshot() == before


def _all_patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _all_patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


# Pages open without signing in, each for a reason.
UNGATED = {
    "": "redirects to the admin",
    "favicon.ico": "a static image",
    "admin/login/": "signing in",
    "admin/logout/": "the admin's own, gated by it",
    "admin/second-factor/": "the second factor's own gate",
    "admin/second-factor/enrol/": "the second factor's own gate",
    "admin/second-factor/log-out/": "the second factor's own gate",
    "admin/second-factor/passkey/begin/": "the second factor's own gate (a passkey)",
    "admin/second-factor/passkey/complete/": "the second factor's own gate (a passkey)",
    # The Interconnect API (api/): machines with a Bearer API credential, never a session;
    # its own gate is tested in tests/api/test_credentials.py. The schema and its docs page
    # say nothing secret.
    "api/v1/": "the API's root: a JSON 404",
    "api/v1/schema/": "the API's OpenAPI schema",
    "api/v1/docs/": "the API's docs page",
    "api/v1/sites/": "the API: a Bearer credential, not a session",
    "api/v1/sites/<code>/xero/access-token": "the API: a Bearer credential, not a session",
    "api/v1/sites/<code>/xero/sign": "the API: a Bearer credential, not a session",
}


def test_every_page_outside_the_admin_goes_through_the_admins_gate(client_for, world):
    """Every URL the project serves, with made-up arguments, refuses a staff member who has
    not passed the second factor: a new view cannot forget the gate."""
    client = client_for("superuser", second_factor=UNVERIFIED)
    site, certificate = world
    checked = 0
    for route, _pattern in _all_patterns():
        if route in UNGATED or "<path:" in route or route.startswith("^"):
            continue
        url = "/" + (
            route.replace("<slug:code>", site.code)
            .replace("<int:pk>", str(certificate.pk))
            .replace("<path:object_id>", "1")
        )
        if "<" in url or "(?P" in url:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, (url, method, response.status_code)
            assert response.url.startswith(LOGIN), url
        checked += 1
    assert checked >= 9


def test_check_deploy_warns_when_the_second_factor_is_off(settings, capsys):
    settings.REQUIRE_TWO_FACTOR = False
    call_command("check", "--deploy", "--tag", "security", fail_level="CRITICAL")
    assert "accounts.W001" in capsys.readouterr().err


def test_check_deploy_is_quiet_about_it_by_default(capsys):
    call_command("check", "--deploy", "--tag", "security", fail_level="CRITICAL")
    assert "accounts.W001" not in capsys.readouterr().err


def test_with_the_second_factor_off_the_password_is_enough(client_for, site, settings):
    settings.REQUIRE_TWO_FACTOR = False
    client = client_for("staff", second_factor=NOT_ENROLLED)
    assert client.get(reverse("xero:setup", args=[site.code])).status_code == 200


def test_the_password_of_an_unverified_user_on_the_login_page_leads_to_the_code(client_for):
    client = client_for("staff", second_factor=UNVERIFIED)
    response = client.get(LOGIN)
    assert response.status_code == 302 and response.url.startswith(reverse("admin:second_factor"))
