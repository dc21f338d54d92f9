"""System checks of the access settings."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


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
