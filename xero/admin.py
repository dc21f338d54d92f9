"""The Xero parts of the Site admin: certificate state in the list, certificates on the page.

``sites`` never imports ``xero``, so the Xero app extends the Site admin from here.
"""

import datetime

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from sites.admin import SiteAdmin
from sites.models import Site

from . import selectors, steps
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


class SiteChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list never shows the secret: no need to decrypt one per row.
        return super().get_queryset(request, exclude_parameters).defer("api_secret")


def _ago(when: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """'3 minutes', '2 hours', '5 days': the largest unit only, as a list needs."""
    seconds = max(0, int(((now or timezone.now()) - when).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' * (count != 1)}"
    return "0 minutes"


class XeroSiteAdmin(SiteAdmin):
    change_form_template = "xero/admin/site_change_form.html"
    list_display = [
        *SiteAdmin.list_display,
        "certificate_column",
        "last_test_column",
    ]

    def get_queryset(self, request):
        return selectors.with_health(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return SiteChangeList

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
        """The last test's outcome and age, linking to the Site's setup page."""
        # One reverse() per page rather than per row: codes are slugs, safe in a path.
        if not hasattr(self, "_setup_url"):
            self._setup_url = reverse("xero:setup", args=["CODE"]).replace("CODE", "{}")
        url = self._setup_url.format(site.code)
        if site.last_test_at is None:
            return format_html('<a href="{}">Never tested</a>', url)
        ago = _ago(site.last_test_at)
        if site.last_test_outcome == ConnectionTest.PASSED:
            return format_html('<a href="{}" class="xero-ok">✓ Passed</a>, {} ago', url, ago)
        return format_html(
            '<a href="{}" class="xero-failed"><strong>✗ {}</strong></a>, {} ago',
            url,
            site.last_test_outcome.replace("_", " "),
            ago,
        )

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
