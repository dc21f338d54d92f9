"""Writes to Sites. Views, forms and the admin call these; they never save a Site themselves."""

from .models import Site


def site_save(*, site: Site) -> Site:
    """Validate every rule of ``site`` (the Interconnect ID lock included) and save it."""
    site.full_clean()
    site.save()
    return site
