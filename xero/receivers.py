"""What the Xero app does when something happens to a Site elsewhere."""

import logging

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from sites.models import Site

from . import connect, exceptions
from .models import TenantBinding

logger = logging.getLogger(__name__)


@receiver(pre_delete, sender=Site, dispatch_uid="xero_disconnect_deleted_site")
def disconnect_deleted_site(sender, instance: Site, **kwargs) -> None:
    """A "Connect to Xero" Site being deleted is disconnected first, as Disconnect does:
    its connection removed in Xero and its token set revoked when no other Site uses it.

    Xero being unreachable never stops the deletion: the binding goes with the Site, and an
    unused token set lapses in Xero after 60 days.
    """
    if not TenantBinding.objects.filter(site=instance).exists():
        return
    try:
        connect.connect_disconnect(site=instance)
    except exceptions.XeroError as error:
        logger.warning(
            "Site %s deleted without disconnecting it in Xero: %s", instance.code, error.code
        )
