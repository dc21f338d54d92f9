"""API credentials and webhooks in the admin, for Admins (the permissions of the
``0002_roles`` data migration): list, see last use, revoke, create (the secret shown once).

The admin is the admin: its pages authenticate by session and second factor only, never
by an API credential.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from sites.models import Site
from warehouse.sudo import fresh_second_factor_required

from . import credentials, webhooks
from .models import ApiCredential, HandOut, Scope, WebhookDelivery, WebhookEndpoint, WebhookEvent


class CredentialCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who uses it, e.g. 'Interconnect prod'.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.STATUS]
    )
    sites = forms.ModelMultipleChoiceField(
        Site.objects.order_by("code"),
        required=False,
        help_text="Leave empty for every Site.",
        to_field_name="code",
    )
    days = forms.IntegerField(min_value=1, max_value=3650, initial=365, label="Lifetime (days)")


@admin.register(ApiCredential)
class ApiCredentialAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "display_id",
        "scope_list",
        "reach",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "lookup_id"]
    actions = ["revoke"]
    fields = readonly_fields = (
        "name",
        "display_id",
        "scope_list",
        "reach",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiCredential]:
        return super().get_queryset(request).prefetch_related("sites")

    @admin.display(description="scopes")
    def scope_list(self, credential: ApiCredential) -> str:
        return ", ".join(credential.scopes)

    @admin.display(description="Sites")
    def reach(self, credential: ApiCredential) -> str:
        return ", ".join(site.code for site in credential.sites.all()) or "every Site"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked, never deleted: the audit trail and hand-outs keep naming it.
        return False

    @admin.action(description="Revoke the selected API credentials", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiCredential]) -> None:
        revoked = sum(
            credentials.credential_revoke(credential=credential, user=request.user)
            for credential in queryset
        )
        self.message_user(request, f"Revoked {revoked} API credential(s).", messages.SUCCESS)

    @fresh_second_factor_required
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = CredentialCreateForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Create an API credential",
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            try:
                issued = credentials.credential_create(
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    site_codes=[site.code for site in form.cleaned_data["sites"]],
                    days=form.cleaned_data["days"],
                    created_by=request.user,
                )
            except ValueError as error:
                form.add_error(None, str(error))
            else:
                context.update(
                    title="API credential created",
                    credential=issued.credential,
                    secret=issued.secret,
                )
                response = TemplateResponse(request, "api/admin/credential_created.html", context)
                response["Cache-Control"] = "no-store"
                return response
        return TemplateResponse(request, "api/admin/credential_add.html", context)


@admin.register(HandOut)
class HandOutAdmin(admin.ModelAdmin):
    list_display = ["hour", "credential", "site", "kind", "count"]
    list_filter = ["kind"]
    readonly_fields = ["hour", "credential", "site", "kind", "count"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EndpointCreateForm(forms.Form):
    url = forms.URLField(max_length=500, assume_scheme="https")
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave empty for every event.",
    )
    sites = forms.ModelMultipleChoiceField(
        Site.objects.order_by("code"), required=False, help_text="Leave empty for every Site."
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "description", "event_list", "paused_at", "failures_in_a_row"]
    fields = readonly_fields = (
        "url",
        "description",
        "event_list",
        "paused_at",
        "paused_reason",
        "created_at",
    )
    actions = ["resume"]

    @admin.display(description="events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events) or "every event"

    @admin.action(description="Resume the selected endpoints", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhooks.endpoint_resume(endpoint=endpoint)
        self.message_user(request, "Resumed.", messages.SUCCESS)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = EndpointCreateForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Add a webhook endpoint",
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            endpoint, secret = webhooks.endpoint_create(
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                events=form.cleaned_data["events"],
                sites=list(form.cleaned_data["sites"]),
                created_by=request.user,
            )
            context.update(title="Webhook endpoint added", endpoint=endpoint, secret=secret)
            response = TemplateResponse(request, "api/admin/endpoint_created.html", context)
            response["Cache-Control"] = "no-store"
            return response
        return TemplateResponse(request, "api/admin/credential_add.html", context)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event_type", "site_code", "endpoint", "state", "attempts"]
    list_filter = ["state", "event_type"]
    fields = readonly_fields = (
        "endpoint",
        "event_type",
        "event_id",
        "site_code",
        "state",
        "attempts",
        "next_attempt_at",
        "attempt_log",
    )
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="attempts (status, time, error)")
    def attempt_log(self, delivery: WebhookDelivery) -> str:
        rows = [
            f"{attempt.at:%Y-%m-%d %H:%M:%S}: "
            f"{attempt.http_status or '—'} {attempt.error} ({attempt.duration_ms} ms)"
            for attempt in delivery.attempt_rows.all()
        ]
        return "\n".join(rows) or "none yet"

    @admin.action(description="Send again", permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhooks.delivery_send_again(delivery=delivery)
        self.message_user(request, "Queued to be sent again.", messages.SUCCESS)
