from django.core.checks import run_checks

from xero.checks import check_xero_timeouts, check_xero_urls_use_https


def test_xeros_own_https_addresses_pass(settings):
    assert check_xero_urls_use_https(None) == []


def test_a_plain_http_address_is_flagged_for_deployment(settings):
    settings.XERO_API_URL = "http://127.0.0.1:8765/api.xro/2.0/"
    warnings = check_xero_urls_use_https(None)
    assert [w.id for w in warnings] == ["xero.W001"]
    assert "XERO_API_URL" in warnings[0].msg
    assert "xero.W001" in [w.id for w in run_checks(include_deployment_checks=True)]


def test_a_zero_timeout_is_an_error_naming_the_setting(settings):
    settings.XERO_READ_TIMEOUT = 0
    errors = check_xero_timeouts(None)
    assert [e.id for e in errors] == ["xero.E001"]
    assert "XERO_READ_TIMEOUT" in errors[0].msg


def test_an_app_client_id_without_its_secret_is_flagged_naming_the_missing_setting(settings):
    from xero.checks import check_xero_app_credentials

    settings.XERO_APP_CLIENT_ID, settings.XERO_APP_CLIENT_SECRET = "ABC", ""
    warnings = check_xero_app_credentials(None)
    settings.XERO_APP_CLIENT_ID, settings.XERO_APP_CLIENT_SECRET = "", ""

    assert [w.id for w in warnings] == ["xero.W002"]
    assert warnings[0].msg.startswith("XERO_APP_CLIENT_SECRET is not set")
    assert check_xero_app_credentials(None) == []


def test_an_unknown_app_tier_is_a_startup_error(settings):
    from xero.checks import check_xero_app_tier

    settings.XERO_APP_TIER = "gold"
    assert [error.id for error in check_xero_app_tier(None)] == ["xero.E002"]
    settings.XERO_APP_TIER = "Core"
    assert check_xero_app_tier(None) == []
