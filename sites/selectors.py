"""Reads of the Sites app: the audit trail's timelines and log. No request, no permissions."""

import datetime

from django.db.models import QuerySet

from .models import AuditChainCheck, AuditEntry


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


def audit_chain_last_check() -> dict | None:
    """The latest walk of the audit chain (``manage.py audit_verify``) as plain data, for
    the health page and ``/readyz``; None when the chain was never checked.

    ``ok`` says whether it held; ``last_verified_pk`` and ``last_verified_hash`` name the
    last row it vouched for (a monitor that keeps the hash can tell a rewrite later).
    """
    check = AuditChainCheck.objects.order_by("-checked_at", "-pk").first()
    if check is None:
        return None
    return {
        "ok": check.broken_pk is None,
        "checked_at": check.checked_at,
        "rows": check.rows,
        "first_pk": check.first_pk,
        "last_verified_pk": check.last_verified_pk,
        "last_verified_hash": check.last_verified_hash,
        "broken_pk": check.broken_pk,
        "reason": check.reason,
    }
