"""The Xero parts of the Site admin: certificate state in the list, certificates on the page.

``sites`` never imports ``xero``, so the Xero app extends the Site admin from here.
"""

import datetime

from django.contrib import admin
from django.db.models import Exists, OuterRef, Prefetch, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from sites.admin import SiteAdmin
from sites.models import Site

from . import steps
from .forms import CertificateIssueForm
from .models import EXPIRY_WARNING_DAYS, Certificate, CertificateEvent, ConnectionTest

HISTORY_LENGTH = 10


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


class XeroSiteAdmin(SiteAdmin):
    change_form_template = "xero/admin/site_change_form.html"
    list_display = [
        *SiteAdmin.list_display,
        "certificate_column",
        "last_test_column",
        "setup_link",
    ]

    def get_queryset(self, request):
        certificates = Certificate.objects.filter(site=OuterRef("pk"))
        last_tests = ConnectionTest.objects.filter(site=OuterRef("pk")).order_by(
            "-started_at", "-pk"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_certificate_expires=Subquery(
                    certificates.active().values("not_valid_after")[:1]
                ),
                has_pending_certificate=Exists(certificates.pending()),
                last_test_outcome=Subquery(last_tests.values("outcome")[:1]),
                last_test_at=Subquery(last_tests.values("started_at")[:1]),
            )
        )

    @admin.display(description="Certificate", ordering="active_certificate_expires")
    def certificate_column(self, site):
        text, flagged = certificate_summary(
            expires_at=site.active_certificate_expires,
            has_pending=site.has_pending_certificate,
        )
        if flagged:
            return format_html('<strong class="xero-expiring">⚠ {}</strong>', text)
        return text

    @admin.display(description="Last connection test", ordering="last_test_at")
    def last_test_column(self, site):
        if site.last_test_at is None:
            return "Never tested"
        ago = timesince(site.last_test_at).split(",")[0]
        if site.last_test_outcome == ConnectionTest.PASSED:
            return format_html('<span class="xero-ok">✓ Passed</span>, {} ago', ago)
        return format_html(
            '<strong class="xero-failed">✗ {}</strong>, {} ago',
            site.last_test_outcome.replace("_", " "),
            ago,
        )

    @admin.display(description="Setup")
    def setup_link(self, site):
        return format_html('<a href="{}">Xero setup</a>', reverse("xero:setup", args=[site.code]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        site = self.get_object(request, object_id)
        if site is not None:
            extra_context.update(certificate_context(request, site))
            extra_context.update(connection_test_context(request, site))
        return super().change_view(request, object_id, form_url, extra_context)


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


admin.site.unregister(Site)
admin.site.register(Site, XeroSiteAdmin)
