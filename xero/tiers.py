"""Xero's price tiers for the Warehouse's own app ("Connect to Xero"): each caps how many
organisations the app may have connected at once (developer.xero.com, pricing).

The count is the organisations bound to a Site (``TenantBinding``) plus those connected
and bound to none (``UnboundConnection``: a consent that ticked several), since Xero
counts every connection. *Connect to Xero* for a Site not connected yet is refused past the
cap before anyone is sent to Xero; the Admins are told once when the count reaches 80% of
the cap, and once when it passes 50, beyond which Xero requires certification (Plus and
above).
"""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from sites.roles import ADMINS

from . import link_alerts
from .exceptions import TierFull
from .models import Alert, AppNotice, TenantBinding, UnboundConnection

logger = logging.getLogger(__name__)

# Connected organisations each tier allows; None is no cap (``checks.APP_TIERS`` names the
# same tiers for the startup check).
TIER_CAPS: dict[str, int | None] = {
    "starter": 5,
    "core": 50,
    "plus": 1000,
    "advanced": 10_000,
    "enterprise": None,
}
WARN_AT = 0.8
# Past this many connected organisations Xero requires the app to be certified.
CERTIFICATION_FROM = 50


def tier() -> str:
    name = str(settings.XERO_APP_TIER).strip().lower()
    if name not in TIER_CAPS:
        raise ImproperlyConfigured(
            f"XERO_APP_TIER must be one of {', '.join(TIER_CAPS)}, not “{name[:20]}”."
        )
    return name


def cap() -> int | None:
    return TIER_CAPS[tier()]


def connected_organisations() -> int:
    return TenantBinding.objects.count() + UnboundConnection.objects.count()


def tier_summary() -> dict:
    """For the health page: the tier, its cap, the count and how full it is."""
    unbound = list(UnboundConnection.objects.select_related("token_set"))
    count, limit = TenantBinding.objects.count() + len(unbound), cap()
    return {
        "tier": tier(),
        "cap": limit,
        "count": count,
        "percent": round(100 * count / limit) if limit else None,
        "warn": limit is not None and count >= WARN_AT * limit,
        "certification": count > CERTIFICATION_FROM,
        "unbound": unbound,
    }


def check_room(*, site) -> None:
    """Refuse (``TierFull``) to connect ``site`` when the tier is full; a Site already
    connected takes no new place by connecting again."""
    limit = cap()
    if limit is None or TenantBinding.objects.filter(site=site).exists():
        return
    if connected_organisations() >= limit:
        raise TierFull(tier=tier().capitalize(), cap=limit)


def _notice_once(key: str, subject: str, body: str) -> bool:
    try:
        with transaction.atomic():
            AppNotice.objects.create(key=key)
            link_alerts.deliver(
                kind=Alert.Kind.TIER,
                subject=subject,
                users=link_alerts.role_users(ADMINS),
                body=body,
            )
    except IntegrityError:
        return False
    return True


def tier_review() -> None:
    """After a new connection: warn the Admins once at 80% of the cap, once past 50."""
    count, limit, name = connected_organisations(), cap(), tier()
    if limit and count >= WARN_AT * limit:
        _notice_once(
            f"tier-80:{name}",
            f"Xero app tier {name.capitalize()}: {count} of {limit} organisations connected",
            f"The Warehouse's Xero app has {count} organisations connected, of the {limit} "
            f"its {name.capitalize()} tier allows. Past {limit}, Connect to Xero refuses new "
            "Sites. Move the app to a higher tier in Xero's developer portal and set "
            "XERO_APP_TIER, or disconnect organisations no Site uses (health page).\n",
        )
    if count > CERTIFICATION_FROM:
        _notice_once(
            "certification-50",
            f"Xero app: more than {CERTIFICATION_FROM} organisations connected",
            f"The Warehouse's Xero app has {count} organisations connected. Past "
            f"{CERTIFICATION_FROM}, Xero requires a certified app on the Plus tier or above: "
            "start Xero's certification (developer.xero.com, App Partner) if not done.\n",
        )


def unbound_disconnect(*, unbound: UnboundConnection) -> None:
    """Remove an organisation no Site uses from the app's connections in Xero (and from the
    list); one already gone at Xero counts as removed."""
    from . import client, web_app

    session = client.XeroSession()
    token = web_app.access_token(token_set=unbound.token_set, session=session)
    web_app.delete_connection(
        session=session, access_token=token, connection_id=unbound.connection_id
    )
    unbound.delete()
    logger.info("Disconnected unbound organisation %s", unbound.tenant_id)
