"""The customer fence: a customer reaches their own Sites' pages and their account's pages,
and nothing else of the Warehouse (the admin's index, lists, other models, history, the health
page, the audit log) answers them but 404.

It allows by name, so a page added later is closed to customers until it is listed here; the
views listed still check each Site through ``customers.access.site_for``.
"""

from django.http import Http404
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

from .access import is_customer

CUSTOMER_PAGES = frozenset(
    {
        "xero:setup",
        "xero:certificate_download",
        "xero:connection_test",
        # Their own Site's whole test history (staff are named "Imagatec support" there).
        "xero:connection_tests",
        # "Connect to Xero" for their own Sites; Disconnect stays with Admins.
        "xero:connect",
        "xero:connect_choose",
        "xero:callback",
        # Their own alert settings (which of their Sites' alerts reach them, and how).
        "xero:alert_preferences",
        "customers:home",
        "customers:accept",
        "admin:login",
        "admin:logout",
        "admin:password_change",
        "admin:password_change_done",
        "admin:jsi18n",
        # The second factor's pages (issue 10's admin site), when installed.
        "admin:second_factor",
        "admin:second_factor_enrol",
        "admin:second_factor_log_out",
        "admin:recovery_codes",
        # Passkeys: their own, added from the account and used at the second factor.
        "admin:passkeys",
        "admin:passkey_remove",
        "admin:passkey_register_begin",
        "admin:passkey_register_complete",
        "admin:passkey_verify_begin",
        "admin:passkey_verify_complete",
    }
)

# Where Staff find their Sites; a customer finds theirs (and only theirs) at the same links,
# e.g. the error pages' "Back to the Site list".
CUSTOMER_HOMES = frozenset({"admin:index", "admin:sites_site_changelist"})


class CustomerFenceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_customer(request.user):
            try:
                match = resolve(request.path_info)
            except Resolver404:
                match = None
            # Unnamed routes are redirects (``/`` to the index, the favicon): they fall through.
            if match is not None and match.url_name is not None:
                if match.view_name in CUSTOMER_HOMES:
                    return redirect("customers:home")
                if match.view_name not in CUSTOMER_PAGES:
                    raise Http404
        return self.get_response(request)
