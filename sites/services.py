"""Writes to Sites. Views, forms and the admin call these; they never save a Site themselves."""

from collections import Counter

from django.db import connection, router, transaction
from django.db.models import F
from django.db.models.deletion import Collector
from django.utils import timezone

from warehouse import database

from .models import AuditEntry, Site


def site_save(*, site: Site) -> Site:
    """Validate every rule of ``site`` (the Interconnect ID lock included) and save it."""
    site.full_clean()
    site.save()
    return site


class SiteChangedElsewhere(Exception):
    """A save based on a version of the Site that someone else has saved over since."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


SITE_CHANGED_ELSEWHERE = (
    "Not saved: {who} saved this Site after you opened it{when}{what}. Your changes are "
    "still in the form below (type a new API Secret again if you gave one): check them "
    "against theirs and save again."
)


def site_edit_claim(*, site: Site, version: int | None) -> None:
    """Take the next version of ``site``, if it is still at ``version``, in the caller's
    transaction (so that the claim and the save commit together).

    One conditional UPDATE: of two saves from the same version, the second waits for the
    first's transaction (its row lock, or SQLite's write lock) and then finds the version
    gone. Raises ``SiteChangedElsewhere`` saying who changed what meanwhile. Without a
    ``version`` (a post that did not come from the form's page) nothing is compared, but
    the version still goes up, so that forms open elsewhere see the change.
    """
    current = Site.objects.filter(pk=site.pk)
    if version is None:
        current.update(version=F("version") + 1)
        site.version = current.values_list("version", flat=True).get()
        return
    if current.filter(version=version).update(version=F("version") + 1):
        site.version = version + 1
        return
    raise SiteChangedElsewhere(_changed_since(site))


def _changed_since(site: Site) -> str:
    latest = (
        AuditEntry.objects.filter(site_pk=site.pk, kind=AuditEntry.Kind.SITE_CHANGED)
        .order_by("-timestamp", "-pk")
        .first()
    )
    if latest is None:
        return SITE_CHANGED_ELSEWHERE.format(who="someone else", when="", what="")
    changes = "; ".join(line["text"] for line in latest.change_lines())
    return SITE_CHANGED_ELSEWHERE.format(
        who=latest.who,
        when=f" (at {timezone.localtime(latest.timestamp):%H:%M:%S})",
        what=f" and changed: {changes}" if changes else "",
    )


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
    database.after_commit(_empty_write_ahead_log)
    return dict(counts)


def _empty_write_ahead_log() -> None:
    """Move SQLite's write-ahead log into the database file and truncate it.

    The log holds the pages as they were before the deletion until a checkpoint; with
    ``secure_delete`` on, the checkpoint writes the zeroed pages over them.
    """
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
