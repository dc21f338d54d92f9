from auditlog import get_logentry_model
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.shortcuts import redirect

from warehouse.sudo import ask_unless_fresh, fresh_second_factor_required

from .forms import SiteAddForm, SiteXeroDetailsForm
from .models import Site
from .services import site_delete, site_save
from .views import audit_timeline_context


def logentry_admin_unregister() -> None:
    """The audit trail has its own pages (sites/views.py); django-auditlog's admin would offer
    the rows to the admin's change and delete machinery, which nobody may use on them.
    Called from ``SitesConfig.ready``: "auditlog" comes after "sites" in INSTALLED_APPS (so
    that our commands replace its), and its admin module is imported after this one."""
    if admin.site.is_registered(get_logentry_model()):
        admin.site.unregister(get_logentry_model())


DELETE_CODE_MISMATCH = (
    "The Site was not deleted: type its code exactly as shown to confirm the deletion."
)


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteXeroDetailsForm
    list_display = ["name", "code", "connection_type", "xero_organisation_name"]
    list_filter = ["connection_type"]
    search_fields = ["name", "code", "api_key", "xero_organisation_name"]

    # Not "Xero API Secret": that is the label of the box a new secret is typed into.
    @admin.display(description="Stored API Secret")
    def api_secret_display(self, site):
        return site.api_secret_masked or "— not set —"

    def _can_see_secret_mask(self, request):
        return request.user.has_perm("sites.view_api_secret_mask")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SiteAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_changeform_initial_data(self, request):
        # New Sites connect Xero's current way; the retired type stays selectable.
        return {
            "connection_type": Site.ConnectionType.CUSTOM_CONNECTION,
            **super().get_changeform_initial_data(request),
        }

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Nothing is stored yet: no secret to keep or clear, no organisation, no history.
            xero_fields = [
                "interconnect_id",
                "connection_type",
                "api_key",
                "new_api_secret",
                "api_secret_retype",
            ]
            return [
                (None, {"fields": ["name", "code"]}),
                ("Xero Details", {"fields": [*xero_fields, "payroll_enabled"]}),
            ]
        xero_fields = ["interconnect_id", "connection_type", "api_key"]
        if self.has_change_permission(request, obj) or self.has_add_permission(request):
            if obj is not None and obj.api_secret:
                xero_fields.append("api_secret_display")
            xero_fields += ["new_api_secret", "api_secret_retype", "clear_api_secret"]
        elif self._can_see_secret_mask(request):
            xero_fields.append("api_secret_display")
        xero_fields += ["payroll_enabled", "xero_organisation_name"]
        return [
            # The version the form shows (hidden): a save from an older one is refused.
            (None, {"fields": ["name", "code", "site_version"]}),
            ("Xero Details", {"fields": xero_fields}),
            ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = [
            "interconnect_id",
            "api_secret_display",
            "xero_organisation_name",
            "created_at",
            "updated_at",
        ]
        # Staff edit the Xero details; a Site's identity is the Admins'.
        if obj is not None and not request.user.has_perm("sites.add_site"):
            readonly += ["name", "code"]
        return readonly

    delete_confirmation_template = "sites/admin/site_delete_confirmation.html"

    def save_model(self, request, obj, form, change):
        site_save(site=obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Changing the API Secret is dangerous; the other details are not.
        changes_secret = request.method == "POST" and self.form.changes_api_secret(request.POST)
        if changes_secret and (asked := ask_unless_fresh(request)) is not None:
            return asked
        extra_context = extra_context or {}
        site = self.get_object(request, unquote(object_id))
        if site is not None:
            extra_context.update(audit_timeline_context(request, site))
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        # "Sites", not Django's "Select Site to change": the list is where Sites are found.
        return super().changelist_view(request, {"title": "Sites", **(extra_context or {})})

    def get_actions(self, request):
        # A Site is deleted one at a time, its code typed to confirm: no bulk delete.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @fresh_second_factor_required
    def delete_view(self, request, object_id, extra_context=None):
        if request.method == "POST":
            site = self.get_object(request, unquote(object_id))
            typed = request.POST.get("confirm_code", "").strip()
            allowed = site is not None and self.has_delete_permission(request, site)
            if allowed and site is not None and typed != site.code:
                messages.error(request, DELETE_CODE_MISMATCH)
                return redirect(request.get_full_path())
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        site_delete(site=obj)

    def delete_queryset(self, request, queryset):
        for site in queryset:
            site_delete(site=site)
