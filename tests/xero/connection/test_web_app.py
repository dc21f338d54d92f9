"""xero/connection/web_app.py: the connection test of a "Connect to Xero" Site, against
the fake Xero."""

from xero.connection import connection_for
from xero.services import connection_test_run


def test_the_connection_test_names_the_organisation_and_who_connected(connected_site, web_app_xero):
    test = connection_test_run(site=connected_site)

    assert test.passed, test.message
    assert test.organisation_name == "Acme Pty Ltd"
    assert test.payroll_outcome == "ok"
    assert "Connected in Xero by Bea Keeper (bookkeeper@example.com)" in test.message


def test_an_organisation_disconnected_in_xero_is_disconnected_in_xero(connected_site, web_app_xero):
    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)

    test = connection_test_run(site=connected_site)

    assert test.outcome == "disconnected_in_xero"
    assert "Acme Pty Ltd was disconnected in Xero" in test.message


def test_a_site_not_connected_yet_is_not_connected(web_site, web_app_xero):
    test = connection_test_run(site=web_site)

    assert test.outcome == "not_connected"
    assert test.step == "open_xero"


def test_every_call_names_the_sites_tenant(connected_site, web_app_xero):
    session = connection_for(connected_site).open()

    assert session.headers["Xero-Tenant-Id"] == web_app_xero.acme.tenant_id


def test_a_token_xero_calls_expired_is_refreshed_once_and_the_call_sent_again(
    connected_site, web_app_xero
):
    web_app_xero.expire_tokens()  # our records still think it lasts

    test = connection_test_run(site=connected_site)

    assert test.passed, test.message
    assert web_app_xero.refresh_count == 1


def test_setup_steps_of_a_web_app_site_follow_the_binding_and_the_test(
    client_for, connected_site, web_app_xero
):
    from xero import selectors, steps

    web_app_xero.disconnect_in_xero(web_app_xero.acme.tenant_id)
    test = connection_test_run(site=connected_site)

    shown = steps.setup_steps(
        site=connected_site,
        certificate=None,
        last_test=test,
        binding=selectors.tenant_binding(site=connected_site),
    )

    assert [(step.key, step.state) for step in shown] == [
        ("open_xero", "problem"),
        ("create_application", "done"),
        ("connection_test", "todo"),
    ]
    assert "disconnected in Xero" in shown[0].note
