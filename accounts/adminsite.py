"""The admin site: the one gate in front of every Warehouse page.

A page is open to a user who is active, has *Staff status* and, while ``REQUIRE_TWO_FACTOR``
is on, passed the second factor in this session. The Xero pages are wrapped in
``admin.site.admin_view`` (``xero/urls.py``), so they pass the same gate. A staff member who
passed the password only is sent to the second-factor pages, the only ones they may use.
"""

from functools import update_wrapper

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from . import gate
from .forms import SignInForm
from .selectors import awaits_second_factor, second_factor_satisfied


class WarehouseAdminSite(admin.AdminSite):
    site_header = "Warehouse"
    site_title = "Warehouse"
    index_title = "Xero integrations"
    login_form = SignInForm
    # Django's "View site" would lead to the admin index: here a *Site* is a customer's Site,
    # so a link of that name misleads. There is no public site to view.
    site_url = None

    def has_permission(self, request):
        return super().has_permission(request) and second_factor_satisfied(request.user)

    def login(self, request, extra_context=None):
        if awaits_second_factor(request.user):
            return self.second_factor_redirect(request)
        response = super().login(request, extra_context)
        if request.method == "POST" and awaits_second_factor(request.user):
            # The password was right: the second factor comes next, then the page asked for.
            return self.second_factor_redirect(request)
        return response

    def second_factor_redirect(self, request):
        """To the code page, or to enrolment for a user who has no authenticator yet."""
        return gate.second_factor_redirect(request, site_name=self.name)

    def next_url(self, request, *, default=None) -> str:
        """The page to go on to (``?next=``), if it is on this host; else ``default``."""
        return gate.next_url(request, site_name=self.name, default=default)

    def second_factor_view(self, view):
        """Gate of the second-factor pages: signed in, active and staff; not yet verified."""

        def inner(request, *args, **kwargs):
            user = request.user
            if not (user.is_authenticated and user.is_active and user.is_staff):
                return redirect_to_login(
                    request.get_full_path(), reverse(f"{self.name}:login", current_app=self.name)
                )
            return view(request, *args, **kwargs)

        return update_wrapper(never_cache(csrf_protect(inner)), view)

    def get_urls(self):
        from . import passkeys, views

        pending = self.second_factor_view
        verified = self.admin_view
        return [
            path("passkeys/", verified(views.passkeys_view), name="passkeys"),
            path(
                "passkeys/<int:passkey_id>/remove/",
                verified(views.passkey_remove_view),
                name="passkey_remove",
            ),
            path(
                "passkeys/add/begin/",
                verified(passkeys.PasskeyRegistrationBeginView.as_view()),
                name="passkey_register_begin",
            ),
            path(
                "passkeys/add/complete/",
                verified(passkeys.PasskeyRegistrationCompleteView.as_view()),
                name="passkey_register_complete",
            ),
            path(
                "second-factor/passkey/begin/",
                pending(passkeys.PasskeyVerificationBeginView.as_view()),
                name="passkey_verify_begin",
            ),
            path(
                "second-factor/passkey/complete/",
                pending(passkeys.PasskeyVerificationCompleteView.as_view()),
                name="passkey_verify_complete",
            ),
            path("second-factor/", pending(views.verify_view), name="second_factor"),
            path("second-factor/enrol/", pending(views.enrol_view), name="second_factor_enrol"),
            path(
                "second-factor/log-out/",
                pending(views.log_out_view),
                name="second_factor_log_out",
            ),
            *super().get_urls(),
        ]
