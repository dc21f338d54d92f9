"""The Xero parts of the Site admin: certificate state in the list, certificates on the page.

``sites`` never imports ``xero``, so the Xero app extends the Site admin from here.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.urls import reverse
from django.utils.html import format_html

from customers.access import page_flags
from customers.selectors import site_customers_context, waiting_for_customer
from sites.admin import SiteAdmin
from sites.models import Site
from warehouse.ages import ago

from . import selectors
from .certificates import APPLICATION_NAME
from .models import ConnectionTest
from .panels import (
    certificate_context,
    certificate_summary,
    connection_test_context,
    superseded_context,
    web_app_context,
)
from .templatetags.xero_display import outcome_badge
from .web_app import authorize_origin


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
        if site.not_connected:
            # Disconnected (or never connected): the last test, if any, is moot.
            return outcome_badge(ConnectionTest.Outcome.NOT_CONNECTED)
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

    # A type's credentials: a Connect to Xero Site has none to type (it connects through the
    # Warehouse's app), so its page shows the Connect panel instead of these boxes.
    CREDENTIAL_FIELDS = (
        "api_key",
        "api_secret_display",
        "new_api_secret",
        "api_secret_retype",
        "clear_api_secret",
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.connection_type != Site.ConnectionType.WEB_APP:
            return fieldsets
        return [
            (
                name,
                {
                    **options,
                    "fields": [f for f in options["fields"] if f not in self.CREDENTIAL_FIELDS],
                },
            )
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is None:
            return readonly
        # The type of a stored Site changes only through its switch, which asks first and
        # clears the Key and Secret: the same from this page as from the setup page.
        return [*readonly, "connection_type"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        site = self.get_object(request, object_id)
        if site is not None:
            extra_context.update(certificate_context(request, site))
            extra_context.update(connection_test_context(request, site))
            extra_context.update(site_customers_context(request, site))
            extra_context.update(web_app_context(request, site))
            extra_context.update(superseded_context(site, extra_context))
            flags = page_flags(request.user, site)
            extra_context["can_connect_xero"] = flags["can_connect_xero"]
            extra_context["can_disconnect_xero"] = flags["can_disconnect_xero"]
            extra_context["can_switch_connection_type"] = flags["can_switch_connection_type"]
            extra_context["switches"] = [
                (f"xero:switch_to_{target}", label)
                for target, label in SWITCH_LINKS.items()
                if target != site.connection_type
            ]
            extra_context["application_name"] = APPLICATION_NAME
        response = super().change_view(request, object_id, form_url, extra_context)
        if site is not None and site.connection_type == Site.ConnectionType.WEB_APP:
            # Connect to Xero's answer redirects to Xero's sign-in page (as on the setup page).
            response._csp_update = {"form-action": [authorize_origin()]}
        return response


# The switch each type has, by the link's words (``xero:switch_to_<type>``).
SWITCH_LINKS = {
    Site.ConnectionType.WEB_APP: "Connect to Xero",
    Site.ConnectionType.CUSTOM_CONNECTION: "a Custom Connection",
    Site.ConnectionType.PRIVATE_APP: "a private application",
}


admin.site.unregister(Site)
admin.site.register(Site, XeroSiteAdmin)
