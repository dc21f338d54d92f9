"""The Xero parts of the Site admin: certificate state in the list, certificates on the page.

``sites`` never imports ``xero``, so the Xero app extends the Site admin from here.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils.html import format_html

from customers.selectors import site_customers_context, waiting_for_customer
from sites.admin import SiteAdmin
from sites.models import Site
from warehouse.ages import ago

from . import selectors
from .models import ConnectionTest
from .panels import certificate_context, certificate_summary, connection_test_context
from .templatetags.xero_display import outcome_badge


class SiteChangeList(ChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list never shows the secret: no need to decrypt one per row.
        return super().get_queryset(request, exclude_parameters).defer("api_secret")


class HealthFilter(admin.SimpleListFilter):
    """The health page's filters (failing, never tested, expiring), on the Site list too."""

    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return list(selectors.HEALTH_FILTERS.items())

    def queryset(self, request, queryset):
        return selectors.filter_health(queryset, filter=self.value())


class CustomerFilter(admin.SimpleListFilter):
    title = "customer"
    parameter_name = "customer"
    WAITING = "waiting"

    def lookups(self, request, model_admin):
        return [(self.WAITING, "Waiting for customer")]

    def queryset(self, request, queryset):
        if self.value() == self.WAITING:
            passed = ConnectionTest.objects.filter(outcome=ConnectionTest.Outcome.OK)
            return waiting_for_customer(queryset, passed_tests=passed)
        return queryset


class XeroSiteAdmin(SiteAdmin):
    change_form_template = "xero/admin/site_change_form.html"
    change_list_template = "xero/admin/site_change_list.html"
    list_display = [
        *SiteAdmin.list_display,
        "certificate_column",
        "last_test_column",
        "setup_column",
    ]

    list_filter = [*SiteAdmin.list_filter, HealthFilter, CustomerFilter]

    def get_queryset(self, request):
        return selectors.with_health(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return SiteChangeList

    @admin.display(description="Certificate", ordering="active_certificate_expires")
    def certificate_column(self, site):
        if not site.signs_with_certificate:
            return "Not used"
        text, flagged = certificate_summary(
            expires_at=site.active_certificate_expires,
            has_pending=site.has_pending_certificate,
        )
        if flagged:
            return format_html('<strong class="xero-expiring">⚠ {}</strong>', text)
        return text

    @admin.display(description="Last connection test", ordering="last_test_at")
    def last_test_column(self, site):
        """The last test's outcome and age."""
        if site.last_test_at is None:
            return "Never tested"
        return format_html("{}, {}", outcome_badge(site.last_test_outcome), ago(site.last_test_at))

    @admin.display(description="Xero setup")
    def setup_column(self, site):
        """The way to the Site's setup page, where its Xero connection is made and tested."""
        # One reverse() per page rather than per row: codes are slugs, safe in a path.
        if not hasattr(self, "_setup_url"):
            self._setup_url = reverse("xero:setup", args=["CODE"]).replace("CODE", "{}")
        return format_html(
            '<a href="{}" aria-label="Xero setup of {}">Setup steps</a>',
            self._setup_url.format(site.code),
            site.name,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        site = self.get_object(request, object_id)
        if site is not None:
            extra_context.update(certificate_context(request, site))
            extra_context.update(connection_test_context(request, site))
            extra_context.update(site_customers_context(request, site))
        return super().change_view(request, object_id, form_url, extra_context)


admin.site.unregister(Site)
admin.site.register(Site, XeroSiteAdmin)
