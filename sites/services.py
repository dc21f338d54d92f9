"""Writes to Sites. Views, forms and the admin call these; they never save a Site themselves."""

from .models import Site


def site_save(*, site: Site) -> Site:
    """Validate every rule of ``site`` (the Interconnect ID lock included) and save it."""
    site.full_clean()
    site.save()
    return site


def site_switch_connection_type(*, site: Site, connection_type: str) -> Site:
    """Switch how ``site`` connects to Xero.

    The API Key and Secret mean different things for each type (a Consumer Key is no Client
    ID), so they are cleared, to be copied anew from Xero.
    """
    if site.connection_type == connection_type:
        return site
    site.connection_type = connection_type
    site.api_key = ""
    site.api_secret = ""
    return site_save(site=site)
