"""Users in the admin gain their second factor's state and a reset for superusers."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import Exists, OuterRef

from sites.roles import GROUPS_NEEDING_STAFF_STATUS
from warehouse.sudo import fresh_second_factor_required

from .models import TOTPDevice
from .services import second_factor_reset

User = get_user_model()


class WarehouseUserAdmin(UserAdmin):
    list_display = [*UserAdmin.list_display, "second_factor"]  # type: ignore[misc]  # a class attribute, read as one
    actions = ["reset_second_factor"]

    def get_queryset(self, request):
        enrolled = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(has_second_factor=Exists(enrolled))

    @admin.display(boolean=True, description="Second factor", ordering="has_second_factor")
    def second_factor(self, user):
        return user.has_second_factor

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not obj.is_staff:
            roles = obj.groups.filter(name__in=GROUPS_NEEDING_STAFF_STATUS)
            names = ", ".join(roles.values_list("name", flat=True))
            if names:
                messages.warning(
                    request,
                    f"{obj.get_username()} is in {names} but lacks Staff status, so cannot "
                    "sign in to the Warehouse. Tick Staff status and save.",
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_reset_second_factor_permission(self, request):
        return request.user.is_superuser

    @admin.action(
        permissions=["reset_second_factor"],
        description="Reset the second factor of the selected users (they enrol again)",
    )
    @fresh_second_factor_required
    def reset_second_factor(self, request, queryset):
        reset = 0
        for user in queryset:
            if user.pk == request.user.pk:
                messages.warning(
                    request, "Your own second factor is not reset: ask another superuser."
                )
                continue
            second_factor_reset(user=user, by=request.user)
            reset += 1
        if reset:
            messages.success(
                request,
                f"Reset the second factor of {reset} user{'s' * (reset != 1)}. They are signed "
                "out now; after their password at the next sign-in they set up a new "
                "authenticator. Their recovery codes no longer work.",
            )


admin.site.unregister(User)
admin.site.register(User, WarehouseUserAdmin)
