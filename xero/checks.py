"""System checks for the Xero settings."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

URL_SETTINGS = (
    "XERO_API_URL",
    "XERO_PAYROLL_URL",
    "XERO_IDENTITY_URL",
    "XERO_CONNECTIONS_URL",
    "XERO_AUTHORIZE_URL",
    "XERO_REVOCATION_URL",
)


@register(Tags.security, deploy=True)
def check_xero_urls_use_https(app_configs, **kwargs):
    """Plain http is for the local sandbox only; in production it would send tokens in clear."""
    return [
        Warning(
            f"{name} is {getattr(settings, name)!r}, not an https:// address. That is fine for "
            "the local sandbox, but in production it would send tokens unencrypted.",
            id="xero.W001",
        )
        for name in URL_SETTINGS
        if urlsplit(getattr(settings, name)).scheme != "https"
    ]


@register()
def check_xero_timeouts(app_configs, **kwargs):
    return [
        Error(f"{name} must be a number of seconds above 0.", id="xero.E001")
        for name in ("XERO_CONNECT_TIMEOUT", "XERO_READ_TIMEOUT")
        if not getattr(settings, name) > 0
    ]


@register()
def check_xero_app_credentials(app_configs, **kwargs):
    """The Warehouse's Xero app needs both halves; one alone is a half-done configuration."""
    client_id, secret = settings.XERO_APP_CLIENT_ID, settings.XERO_APP_CLIENT_SECRET
    if bool(client_id) == bool(secret):
        return []
    missing = "XERO_APP_CLIENT_SECRET" if client_id else "XERO_APP_CLIENT_ID"
    return [
        Warning(
            f"{missing} is not set, so “Connect to Xero” cannot work. Set both "
            "XERO_APP_CLIENT_ID and XERO_APP_CLIENT_SECRET (the Warehouse's Xero app, type "
            "Web app, from developer.xero.com) in the server's environment, or neither.",
            id="xero.W002",
        )
    ]


# The tiers xero/tiers.py knows (named here too: checks load before the models).
APP_TIERS = ("starter", "core", "plus", "advanced", "enterprise")


@register()
def check_xero_app_tier(app_configs, **kwargs):
    """An unknown tier would leave the cap on connected organisations unknown."""
    if str(settings.XERO_APP_TIER).strip().lower() in APP_TIERS:
        return []
    return [
        Error(
            f"XERO_APP_TIER must be one of {', '.join(APP_TIERS)} (the Xero app's pricing "
            "tier, which caps its connected organisations).",
            id="xero.E002",
        )
    ]
