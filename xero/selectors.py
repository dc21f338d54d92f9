"""Reads of the Xero app, each in a fixed number of queries: what the health page lists,
and what a Site's page and setup page show of its certificates and connection tests."""

import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from sites.models import Site

from . import steps
from .forms import CertificateIssueForm
from .models import (
    EXPIRY_WARNING_DAYS,
    Certificate,
    CertificateEvent,
    ConnectionTest,
    QueuedCheck,
    TenantBinding,
    TokenSet,
)

# How many connection tests a Site's pages list.
HISTORY_LENGTH = 10

FAILING = "failing"
NEVER_TESTED = "never"
EXPIRING = "expiring"
HEALTH_FILTERS = {
    FAILING: "Failing",
    NEVER_TESTED: "Never tested",
    EXPIRING: f"Expiring within {EXPIRY_WARNING_DAYS} days",
}


def certificate_to_paste(certificates) -> Certificate | None:
    """The certificate the customer pastes into Xero: the newest active or pending one
    (the pending one while a rotation is on). ``certificates`` is any iterable of them."""
    current = [c for c in certificates if c.state != Certificate.State.RETIRED]
    return max(current, key=lambda c: c.issued_at, default=None)


def with_health(sites: QuerySet[Site]) -> QuerySet[Site]:
    """``sites`` with their last test, active certificate's expiry and whether one is queued.

    Each is one correlated subquery that the (site, -started_at) index of ConnectionTest
    answers, so a page costs the same whatever the history holds.
    """
    certificates = Certificate.objects.filter(site=OuterRef("pk"))
    last_tests = ConnectionTest.objects.filter(site=OuterRef("pk")).order_by("-started_at", "-pk")
    return sites.annotate(
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
    now = now or timezone.now()
    sites = with_health(Site.objects.all()).order_by("name", "pk")
    if filter == FAILING:
        sites = sites.filter(last_test_outcome__isnull=False).exclude(
            last_test_outcome__in=[ConnectionTest.PASSED, ConnectionTest.RUNNING]
        )
    elif filter == NEVER_TESTED:
        sites = sites.filter(last_test_at__isnull=True)
    elif filter == EXPIRING:
        sites = sites.filter(
            active_certificate_expires__lt=now + datetime.timedelta(days=EXPIRY_WARNING_DAYS)
        )
    search = search.strip()
    if search:
        sites = sites.filter(
            Q(name__icontains=search)
            | Q(code__icontains=search)
            | Q(xero_organisation_name__icontains=search)
        )
    return sites


def certificate_summary(*, expires_at: datetime.datetime | None, has_pending: bool, now=None):
    """One line for a Site's certificates, e.g. 'Active, 412 days left (new one pending)'."""
    if expires_at is None:
        return "Pending" if has_pending else "None", False
    days = (expires_at - (now or timezone.now())).days
    if days < 0:
        text, flagged = "Expired", True
    else:
        text, flagged = f"Active, {days} days left", days < EXPIRY_WARNING_DAYS
    if has_pending:
        text += " (new one pending)"
    return text, flagged


def certificate_context(request, site: Site) -> dict:
    """What the certificate panel shows, in a fixed number of queries."""
    certificates = list(
        site.certificates.select_related("issued_by").prefetch_related(
            Prefetch("events", queryset=CertificateEvent.objects.select_related("user"))
        )
    )
    return {
        "site": site,
        "certificates": certificates,
        "current_certificates": [c for c in certificates if c.state != Certificate.State.RETIRED],
        "certificate_issue_form": CertificateIssueForm(),
        "can_issue_certificate": request.user.has_perm("xero.issue_certificate"),
        "can_download_certificate": request.user.has_perm("xero.download_certificate"),
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
    }


def connection_test_context(request, site: Site) -> dict:
    """The last connection tests of a Site, newest first, in one query."""
    tests = list(site.connection_tests.select_related("run_by", "certificate")[:HISTORY_LENGTH])
    for test in tests:
        test.step_title = steps.title(test.connection_type, test.step)
    return {
        "connection_tests": tests,
        "last_connection_test": tests[0] if tests else None,
        "can_run_connection_test": request.user.has_perm("xero.run_connection_test"),
        "can_view_connection_tests": request.user.has_perm("xero.view_connectiontest"),
    }


def tenant_binding(site: Site) -> TenantBinding | None:
    """A "Connect to Xero" Site's organisation and token set, or None, in one query."""
    return TenantBinding.objects.select_related("token_set").filter(site=site).first()


def token_sets_needing_attention(now: datetime.datetime | None = None) -> list[TokenSet]:
    """Token sets whose last refresh failed or whose refresh token nears Xero's 60 days,
    with the codes of the Sites that use them, for the health page."""
    return list(
        TokenSet.objects.needing_attention(now)
        .prefetch_related(
            Prefetch("bindings", queryset=TenantBinding.objects.select_related("site"))
        )
        .order_by("refresh_token_issued_at", "pk")
    )
