"""System checks of the access settings."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_two_factor_required(app_configs, **kwargs):
    if settings.REQUIRE_TWO_FACTOR:
        return []
    return [
        Warning(
            "REQUIRE_TWO_FACTOR is False: anyone with a staff password can open every "
            "customer's Xero settings.",
            hint="Remove REQUIRE_TWO_FACTOR=False from the environment (it is on by default); "
            "turn it off only for development.",
            id="accounts.W001",
        )
    ]


@register(Tags.security)
def check_passkey_relying_party(app_configs, **kwargs):
    """Settings under which no browser would ever sign with a passkey: say so at startup, not
    as a failed ceremony (the library checks only that each origin is https or localhost)."""
    rp_id = settings.OTP_WEBAUTHN_RP_ID
    errors = []
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        pass
    else:
        errors.append(
            Error(
                f"OTP_WEBAUTHN_RP_ID is an IP address ({rp_id}): browsers take only a domain "
                "as a passkey's relying party.",
                hint="Set WAREHOUSE_URL to the address people open (http://localhost:8000 in "
                "development), or OTP_WEBAUTHN_RP_ID to its domain.",
                id="accounts.E001",
            )
        )
    for origin in settings.OTP_WEBAUTHN_ALLOWED_ORIGINS:
        host = urlsplit(origin).hostname or ""
        if host != rp_id and not host.endswith(f".{rp_id}"):
            errors.append(
                Error(
                    f"OTP_WEBAUTHN_ALLOWED_ORIGINS has {origin}, which is not on the relying "
                    f"party's domain ({rp_id}): a passkey never signs for it.",
                    hint="Remove OTP_WEBAUTHN_RP_ID and OTP_WEBAUTHN_ALLOWED_ORIGINS to derive "
                    "both from WAREHOUSE_URL, or make the origins' hosts end in the domain.",
                    id="accounts.E002",
                )
            )
    return errors
