"""Life cycle, URLs, settings fixture and the xero_sandbox management command."""

import threading
import time

import pytest
import requests
from django.core.management import call_command

from xero.management.commands.xero_sandbox import Command
from xero.sandbox import FakeXero, Organisation


def test_urls_share_one_port_on_localhost(fake_xero):
    assert fake_xero.url.startswith("http://127.0.0.1:")
    assert fake_xero.port != 0
    assert fake_xero.api_url == fake_xero.url + "/api.xro/2.0/"
    assert fake_xero.payroll_url == fake_xero.url + "/payroll.xro/1.0/"
    assert fake_xero.identity_url == fake_xero.url + "/connect/token"
    assert fake_xero.connections_url == fake_xero.url + "/connections"


def test_settings_fixture_points_the_xero_urls_at_the_fake(fake_xero_settings, settings):
    assert fake_xero_settings.api_url == settings.XERO_API_URL
    assert fake_xero_settings.payroll_url == settings.XERO_PAYROLL_URL
    assert fake_xero_settings.identity_url == settings.XERO_IDENTITY_URL
    assert fake_xero_settings.connections_url == settings.XERO_CONNECTIONS_URL


def test_stop_closes_the_port():
    fake = FakeXero().start()
    url = fake.url
    fake.stop()

    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/connections", timeout=1)


def test_stop_wakes_a_request_sleeping_in_latency():
    fake = FakeXero(latency=30).start()
    results = []
    request = threading.Thread(
        target=lambda: results.append(requests.get(fake.connections_url, timeout=5).status_code)
    )
    request.start()
    time.sleep(0.1)
    started = time.monotonic()

    fake.stop()
    request.join(5)

    assert time.monotonic() - started < 2
    assert results == [401]


def test_unknown_path_is_404_not_found_text(fake_xero):
    response = requests.get(fake_xero.api_url + "Invoices", timeout=5)

    assert response.status_code == 404
    assert response.text == "The resource you're looking for cannot be found"


def test_organisation_defaults_look_like_xeros_demo_company():
    organisation = Organisation()

    assert organisation.Name == "Demo Company (AU)"
    assert organisation.ShortCode.startswith("!")
    assert organisation.IsDemoCompany is True
    assert organisation.tenant_id == organisation.OrganisationID


def test_two_apps_can_share_one_organisation(fake_xero):
    shared = fake_xero.register_custom_connection("a", "a-secret")

    assert fake_xero.register_custom_connection("b", "b-secret", organisation=shared) is shared


def test_management_command_prints_env_lines_and_stops_on_ctrl_c(monkeypatch, capsys):
    def interrupt(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Command, "wait", interrupt)

    call_command("xero_sandbox", "--port", "0", "--latency", "0.1")

    out = capsys.readouterr().out
    lines = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("XERO_"))
    assert set(lines) == {
        "XERO_API_URL",
        "XERO_PAYROLL_URL",
        "XERO_IDENTITY_URL",
        "XERO_CONNECTIONS_URL",
        "XERO_AUTHORIZE_URL",
        "XERO_REVOCATION_URL",
        "XERO_JWKS_URL",
    } | ({"XERO_APP_CLIENT_ID", "XERO_APP_CLIENT_SECRET"} & set(lines))
    assert lines["XERO_API_URL"].startswith("http://127.0.0.1:")
    assert lines["XERO_API_URL"].endswith("/api.xro/2.0/")
    assert "stopped" in out
    with pytest.raises(requests.ConnectionError):
        requests.get(lines["XERO_CONNECTIONS_URL"], timeout=1)


def test_the_sandboxs_redirect_uri_follows_warehouse_url(monkeypatch, capsys, settings):
    def interrupt(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Command, "wait", interrupt)
    settings.WAREHOUSE_URL = "http://127.0.0.1:8001"

    call_command("xero_sandbox", "--port", "0")

    assert "sends people back to http://127.0.0.1:8001/xero/callback/" in capsys.readouterr().out


@pytest.mark.parametrize(("arguments", "enforced"), [((), True), (("--no-limits",), False)])
def test_the_sandbox_command_enforces_xeros_limits_unless_told_not_to(
    monkeypatch, arguments, enforced
):
    seen = []

    def interrupt(self):
        seen.append(self.fake.enforce_limits)
        raise KeyboardInterrupt

    monkeypatch.setattr(Command, "wait", interrupt)
    call_command("xero_sandbox", "--port", "0", *arguments)
    assert seen == [enforced]
