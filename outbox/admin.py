"""The outbox in the admin, read-only, for Admins (the ``0002_roles`` data migration):
what is on its way, sent or failed, with the tries and the last error. Never a body: an
invitation's link is a secret, and nobody needs to read an email here to fix sending."""

from django.contrib import admin
from django.http import HttpRequest

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "subject", "recipients_label", "state", "tries", "last_error"]
    list_filter = ["state"]
    search_fields = ["subject", "to"]
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "created_at",
        "state",
        "subject",
        "from_email",
        "recipients_label",
        "about",
        "tries",
        "next_attempt_at",
        "last_error",
        "sent_at",
    )

    @admin.display(description="to")
    def recipients_label(self, obj: OutboxMessage) -> str:
        return obj.recipients_label()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
