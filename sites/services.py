"""Writes to Sites. Views, forms and the admin call these; they never save a Site themselves."""

from collections import Counter

from django.db import connection, router, transaction
from django.db.models.deletion import Collector

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


def site_delete(*, site: Site) -> dict[str, int]:
    """Delete ``site`` with everything it owns; the audit trail keeps its history.

    Its certificates (with their private keys), tokens, secrets and test history go with
    it (they cascade). The trail's rows stay, naming the Site's code and name, plus one
    row per certificate deleted and one for the Site with what went with it. On SQLite
    the freed pages are zeroed (``secure_delete``) and the write-ahead log is emptied
    once the deletion commits, so no ciphertext of the Site's secrets stays in the files.
    Returns how many rows of each kind were deleted.
    """
    with transaction.atomic():
        # The stored values, not the caller's copy: the trail records what is deleted.
        site = Site.objects.select_for_update().get(pk=site.pk)
        collector = Collector(using=router.db_for_write(Site))
        collector.collect([site])
        counts: Counter[str] = Counter()
        singular = {}
        for model, instances in collector.data.items():
            counts[str(model._meta.verbose_name_plural)] += len(instances)
            singular[str(model._meta.verbose_name_plural)] = str(model._meta.verbose_name)
        for queryset in collector.fast_deletes:
            meta = queryset.model._meta
            counts[str(meta.verbose_name_plural)] += queryset.count()
            singular[str(meta.verbose_name_plural)] = str(meta.verbose_name)
        counts.pop(str(Site._meta.verbose_name_plural), None)
        went = ", ".join(
            f"{count} {singular[label] if count == 1 else label}"
            for label, count in sorted(counts.items())
            if count
        )
        site._audit_summary = f"Deleted with {went}." if went else "Deleted; it owned nothing else."
        site.delete()
    transaction.on_commit(_empty_write_ahead_log)
    return dict(counts)


def _empty_write_ahead_log() -> None:
    """Move SQLite's write-ahead log into the database file and truncate it.

    The log holds the pages as they were before the deletion until a checkpoint; with
    ``secure_delete`` on, the checkpoint writes the zeroed pages over them.
    """
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
