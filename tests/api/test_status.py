"""GET /api/v1/sites/ and /api/v1/sites/<code>/: one state per Site, filters, the since
cursor, paging, other Sites as 404, and no secret in any answer."""

import datetime

import pytest
from django.utils import timezone

from tests.conftest import CONSUMER_SECRET
from tests.xero.conftest import CLIENT_SECRET
from xero.models import ConnectionTest
from xero.services import connection_test_run


def _record(site, outcome, *, minutes_ago=0, message=""):
    return ConnectionTest.objects.create(
        site=site,
        outcome=outcome,
        message=message,
        connection_type=site.connection_type,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
    )


@pytest.fixture
def status_client(make_credential, api_client):
    _, secret = make_credential("status")
    return api_client(secret)


def test_a_sites_status_has_the_fields_the_interconnect_needs_and_no_secret(
    status_client, private_site, issue_certificate
):
    test = connection_test_run(site=private_site)
    assert test.passed

    body = status_client.get("/api/v1/sites/acme/").json()

    assert body["code"] == "acme" and body["name"] == "Acme Pty Ltd"
    assert body["connection_type"] == "private_app"
    assert body["state"] == "ok"
    assert body["last_test"]["outcome"] == "ok" and body["last_test"]["label"] == "Passed"
    assert body["last_test"]["message"].startswith("Connected to")
    assert body["organisation"]["name"] == test.organisation_name
    assert body["certificate_expires_at"] is not None
    assert body["payroll_enabled"] is True and body["paused"] is False
    raw = status_client.get("/api/v1/sites/").content.decode()
    for secret in (CONSUMER_SECRET, private_site.api_key):
        assert secret not in raw
    assert "PRIVATE KEY" not in raw


def test_state_is_decided_by_the_last_verdict(status_client, make_site, site):
    failing = make_site(code="failing", api_key="K" * 20, api_secret="s" * 20)
    _record(failing, "ok", minutes_ago=10)
    _record(failing, "invalid_client", minutes_ago=5, message="Xero refused")
    # A test still running, or rate limited, says nothing new: still failing.
    _record(failing, "rate_limited", minutes_ago=1)
    passing = make_site(code="passing", api_key="P" * 20, api_secret="s" * 20)
    _record(passing, "invalid_client", minutes_ago=10)
    _record(passing, "ok", minutes_ago=1)
    make_site(code="bare")  # no API Key or Secret: nothing to try

    states = {
        row["code"]: row["state"] for row in status_client.get("/api/v1/sites/").json()["results"]
    }

    assert states == {
        "acme": "never_tested",
        "failing": "failing",
        "passing": "ok",
        "bare": "not_connected",
    }
    failing_body = status_client.get("/api/v1/sites/failing/").json()
    assert failing_body["last_test"]["outcome"] == "rate_limited"


def test_a_connect_to_xero_site_without_an_organisation_is_not_connected(status_client, web_site):
    assert status_client.get("/api/v1/sites/webby/").json()["state"] == "not_connected"


def test_a_connected_site_names_its_organisation_and_tenant(status_client, connected_site):
    from xero.models import TenantBinding

    binding = TenantBinding.objects.get()

    body = status_client.get("/api/v1/sites/webby/").json()

    assert body["organisation"] == {"name": "Acme Pty Ltd", "tenant_id": binding.tenant_id}
    assert body["state"] == "never_tested"


def test_the_list_filters_by_state_and_connection_type(status_client, make_site, site):
    other = make_site(
        code="cc", connection_type="custom_connection", api_key="C" * 20, api_secret="s" * 20
    )
    _record(other, "invalid_client")

    failing = status_client.get("/api/v1/sites/?state=failing").json()
    custom = status_client.get("/api/v1/sites/?connection_type=custom_connection").json()
    wrong = status_client.get("/api/v1/sites/?state=sleeping")

    assert [row["code"] for row in failing["results"]] == ["cc"]
    assert [row["code"] for row in custom["results"]] == ["cc"]
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid"


def test_the_list_is_paged(status_client, make_site):
    for number in range(5):
        make_site(code=f"p{number}")

    first = status_client.get("/api/v1/sites/?page_size=2").json()
    last = status_client.get("/api/v1/sites/?page_size=2&page=3").json()
    beyond = status_client.get("/api/v1/sites/?page_size=2&page=99").json()

    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["next"] == "/api/v1/sites/?page=2&page_size=2"
    assert [row["code"] for row in last["results"]] == ["p4"] and last["next"] is None
    assert beyond["results"] == []


def test_since_lists_only_sites_changed_after_the_cursor(
    status_client, make_site, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        quiet = make_site(code="quiet")
        busy = make_site(code="busy", api_key="B" * 20, api_secret="s" * 20)
    later = timezone.now() + datetime.timedelta(seconds=1)
    from api.models import SiteStamp

    SiteStamp.objects.filter(site=quiet).update(changed_at=later - datetime.timedelta(hours=1))
    SiteStamp.objects.filter(site=busy).update(changed_at=later - datetime.timedelta(hours=1))
    cursor = (later - datetime.timedelta(minutes=30)).isoformat()

    assert status_client.get("/api/v1/sites/", {"since": cursor}).json()["results"] == []
    with django_capture_on_commit_callbacks(execute=True):
        _record(busy, "ok")
    changed = status_client.get("/api/v1/sites/", {"since": cursor}).json()

    assert [row["code"] for row in changed["results"]] == ["busy"]
    assert changed["next_since"] < timezone.now().isoformat()


def test_a_credential_limited_to_some_sites_sees_the_others_as_missing(
    make_credential, api_client, site, make_site
):
    make_site(code="other")
    _, secret = make_credential("status", "credentials", sites=["acme"])
    client = api_client(secret)

    listed = client.get("/api/v1/sites/").json()
    other = client.get("/api/v1/sites/other/")
    missing = client.get("/api/v1/sites/nowhere/")
    token = client.post("/api/v1/sites/other/xero/access-token")

    assert [row["code"] for row in listed["results"]] == ["acme"]
    assert other.status_code == missing.status_code == token.status_code == 404
    assert other.json() == missing.json() == token.json()


@pytest.mark.parametrize("code", ["a" * 33, "caf%C3%A9", "x%00y", "%20"])
def test_an_odd_site_code_is_a_plain_404(status_client, db, code):
    response = status_client.get(f"/api/v1/sites/{code}/")

    assert response.status_code == 404 and response.json()["code"] == "site_not_found"


def test_the_custom_connection_secret_never_appears(status_client, custom_site):
    raw = status_client.get("/api/v1/sites/custom/").content.decode()

    assert CLIENT_SECRET not in raw
