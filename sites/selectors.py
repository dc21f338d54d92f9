"""Reads of the Sites app: the audit trail's timelines and log. No request, no permissions."""

import datetime

from django.db.models import QuerySet

from .models import AuditEntry


def audit_entries(
    *,
    site_pk: int | None = None,
    site: str = "",
    user: str = "",
    kind: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> QuerySet[AuditEntry]:
    """Audit rows, newest first, narrowed by any of: a Site (its id, or a code or name as
    it was recorded), a username, a kind, and a date range (both days included, UTC)."""
    entries = AuditEntry.objects.order_by("-timestamp", "-pk")
    if site_pk is not None:
        entries = entries.filter(site_pk=site_pk)
    if site:
        entries = entries.filter(site_code__iexact=site) | entries.filter(site_name__icontains=site)
    if user:
        entries = entries.filter(actor_username__iexact=user)
    if kind:
        entries = entries.filter(kind=kind)
    if since:
        entries = entries.filter(timestamp__date__gte=since)
    if until:
        entries = entries.filter(timestamp__date__lte=until)
    return entries


def audit_kinds_of_site(*, site_pk: int) -> list[str]:
    """The kinds of row a Site's timeline holds."""
    return list(
        AuditEntry.objects.filter(site_pk=site_pk)
        .order_by()
        .values_list("kind", flat=True)
        .distinct()
    )
