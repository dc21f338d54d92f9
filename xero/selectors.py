"""Reads of the Xero app, each in a fixed number of queries: what the health page lists,
and what a Site's page and setup page show of its certificates and connection tests.

Querysets and plain data only: no request, no form, no permission check (``xero/panels.py``
builds the pages' contexts from these).
"""

import datetime

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone

from sites.models import Site

from .models import (
    EXPIRY_WARNING_DAYS,
    Certificate,
    CertificateEvent,
    CircuitBreaker,
    ConnectionTest,
    QueuedCheck,
    SitePause,
    TenantBinding,
    TokenSet,
    XeroIncident,
)

# How many connection tests a Site's pages list.
HISTORY_LENGTH = 10

FAILING = "failing"
NOT_CONNECTED = "not_connected"
NEVER_TESTED = "never"
EXPIRING = "expiring"
HEALTH_FILTERS = {
    FAILING: "Failing",
    NOT_CONNECTED: "Not connected",
    NEVER_TESTED: "Never tested",
    EXPIRING: f"Expiring within {EXPIRY_WARNING_DAYS} days",
}


def with_health(sites: QuerySet[Site]) -> QuerySet[Site]:
    """``sites`` with their last test, active certificate's expiry, whether one is queued,
    and whether it is a Connect to Xero Site with no organisation (``not_connected``: it
    was never connected, or was disconnected since its last test, whose result is moot).

    Each is one correlated subquery that the (site, -started_at) index of ConnectionTest
    answers, so a page costs the same whatever the history holds.
    """
    certificates = Certificate.objects.filter(site=OuterRef("pk"))
    last_tests = ConnectionTest.objects.filter(site=OuterRef("pk")).order_by("-started_at", "-pk")
    return sites.annotate(
        not_connected=ExpressionWrapper(
            Q(connection_type=Site.ConnectionType.WEB_APP)
            & ~Exists(TenantBinding.objects.filter(site=OuterRef("pk"))),
            output_field=BooleanField(),
        ),
        active_certificate_expires=Subquery(certificates.active().values("not_valid_after")[:1]),
        has_pending_certificate=Exists(certificates.pending()),
        last_test_outcome=Subquery(last_tests.values("outcome")[:1]),
        last_test_at=Subquery(last_tests.values("started_at")[:1]),
        queued=Exists(QueuedCheck.objects.filter(site=OuterRef("pk"))),
    )


def site_health_list(
    *, filter: str | None = None, search: str = "", now: datetime.datetime | None = None
) -> QuerySet[Site]:
    """Every Site ``with_health``, for the health page. ``filter`` is one of
    ``HEALTH_FILTERS``; ``search`` matches the name, code or Xero organisation name.
    """
    sites = filter_health(
        with_health(Site.objects.all()).order_by("name", "pk"), filter=filter, now=now
    ).annotate(
        paused=Exists(SitePause.objects.filter(site=OuterRef("pk"))),
        tested_daily=Exists(CircuitBreaker.objects.filter(site=OuterRef("pk"))),
        **calls_left_annotations(),
    )
    search = search.strip()
    if search:
        sites = sites.filter(
            Q(name__icontains=search)
            | Q(code__icontains=search)
            | Q(xero_organisation_name__icontains=search)
        )
    return sites


def filter_health(
    sites: QuerySet[Site], *, filter: str | None, now: datetime.datetime | None = None
) -> QuerySet[Site]:
    """``sites`` (annotated ``with_health``) narrowed to one of ``HEALTH_FILTERS``; the
    health page and the Site list both filter through here."""
    now = now or timezone.now()
    if filter == FAILING:
        # (mypy: misc) the lookups name ``with_health``'s annotations, which django-stubs
        # cannot follow from one function to another. A Site tested, then disconnected, is
        # failing whatever its last test said.
        return sites.filter(
            (
                Q(last_test_outcome__isnull=False)
                & ~Q(last_test_outcome__in=ConnectionTest.Outcome.not_failing())
            )
            | Q(not_connected=True, last_test_at__isnull=False)
        )
    if filter == NOT_CONNECTED:
        return sites.filter(not_connected=True)  # type: ignore[misc]  # as above
    if filter == NEVER_TESTED:
        return sites.filter(last_test_at__isnull=True)  # type: ignore[misc]  # as above
    if filter == EXPIRING:
        return sites.filter(  # type: ignore[misc]  # as above
            active_certificate_expires__lt=now + datetime.timedelta(days=EXPIRY_WARNING_DAYS)
        )
    return sites


def site_certificates(*, site: Site) -> list[Certificate]:
    """All of ``site``'s certificates, newest first, with who issued them and their events."""
    return list(
        site.certificates.select_related("issued_by").prefetch_related(
            Prefetch("events", queryset=CertificateEvent.objects.select_related("user"))
        )
    )


def site_connection_tests(*, site: Site) -> list[ConnectionTest]:
    """The last ``HISTORY_LENGTH`` connection tests of ``site``, newest first, in one query."""
    return list(site.connection_tests.select_related("run_by", "certificate")[:HISTORY_LENGTH])


def tenant_binding(*, site: Site) -> TenantBinding | None:
    """A "Connect to Xero" Site's organisation and token set, or None, in one query."""
    return TenantBinding.objects.select_related("token_set").filter(site=site).first()


def token_sets_needing_attention(*, now: datetime.datetime | None = None) -> list[TokenSet]:
    """Token sets whose last refresh failed or whose refresh token nears Xero's 60 days,
    with the Sites that use them, for the health page."""
    return list(
        TokenSet.objects.needing_attention(now)
        .prefetch_related(
            Prefetch("bindings", queryset=TenantBinding.objects.select_related("site"))
        )
        .order_by("refresh_token_issued_at", "pk")
    )


def xero_incidents(*, now: datetime.datetime | None = None) -> dict:
    """The open Xero incident, if any, else the last one if it closed within a day, for the
    health page (one query: the latest incident)."""
    now = now or timezone.now()
    latest = XeroIncident.objects.order_by("-opened_at", "-pk").first()
    if latest is None:
        return {"open": None, "closed": None}
    if latest.open:
        return {"open": latest, "closed": None}
    recent = latest.closed_at and latest.closed_at >= now - datetime.timedelta(days=1)
    return {"open": None, "closed": latest if recent else None}


def fleet_skipped_counts() -> dict[str, int]:
    """How many Sites are paused, and how many tested daily by the circuit breaker (and not
    paused), counted apart from the others on the health page; one query."""
    # Counted over the Sites that are in one of the two small tables, found by their
    # keys: over every Site, the two outer joins read the whole fleet at each view.
    skipped = SitePause.objects.values("site_id").union(CircuitBreaker.objects.values("site_id"))
    return Site.objects.filter(pk__in=skipped).aggregate(
        paused=Count("pk", filter=Q(xero_pause__isnull=False)),
        tested_daily=Count("pk", filter=Q(xero_circuit__isnull=False, xero_pause__isnull=True)),
    )


def calls_left_annotations() -> dict:
    """Calls left today and this minute, from the Site's last answer of Xero that said so,
    and when (annotations: subqueries, no query of their own)."""
    answered = ConnectionTest.objects.filter(
        site=OuterRef("pk"), day_limit_remaining__isnull=False
    ).order_by("-started_at", "-pk")
    return {
        "calls_left_day": Subquery(answered.values("day_limit_remaining")[:1]),
        "calls_left_minute": Subquery(answered.values("minute_limit_remaining")[:1]),
        "calls_left_at": Subquery(answered.values("started_at")[:1]),
    }


def sites_under_day_reserve(*, now: datetime.datetime, reserve: int) -> set[int]:
    """Sites whose last answer of Xero, within the last day, left fewer than ``reserve``
    calls for the day (Xero's day limit is a rolling 24 hours); one query."""
    latest = (
        ConnectionTest.objects.filter(site=OuterRef("site"), day_limit_remaining__isnull=False)
        .order_by("-started_at", "-pk")
        .values("pk")[:1]
    )
    return set(
        ConnectionTest.objects.filter(
            started_at__gte=now - datetime.timedelta(days=1),
            day_limit_remaining__lt=reserve,
            pk=Subquery(latest),
        ).values_list("site_id", flat=True)
    )
