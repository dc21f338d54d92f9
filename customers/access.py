"""Who may do what to which Site: the one object-level check every view goes through.

Plain membership filters rather than django-guardian or django-rules. There is one relation to
check (a customer and their Sites), and it must filter querysets, not only answer yes or no:
a customer's lookup of a Site is ``Site.objects.filter(memberships__user=user)``, so another
Site's code simply finds nothing and the page is a 404 from the same query that would have
loaded it. django-guardian would copy every membership into per-object permission rows (one
per user, Site and action) that must be kept in step; django-rules would add a predicate
layer and a dependency for a single ``exists()``. Staff roles stay on Django's global
permissions, as before.
"""

import enum

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from sites.models import Site
from sites.roles import CUSTOMERS as CUSTOMERS  # re-exported: customers' code names it here

CUSTOMER_PERMISSION = "customers.own_sites_only"


class Action(enum.StrEnum):
    VIEW = "view"
    VIEW_TESTS = "view_tests"
    CHANGE_DETAILS = "change_details"
    SEE_SECRET_MASK = "see_secret_mask"  # noqa: S105 (an action name, not a secret)
    DOWNLOAD_CERTIFICATE = "download_certificate"
    RUN_TEST = "run_test"
    ISSUE_CERTIFICATE = "issue_certificate"
    SWITCH_CONNECTION_TYPE = "switch_connection_type"
    CONNECT_XERO = "connect_xero"
    DISCONNECT_XERO = "disconnect_xero"
    INVITE = "invite"


# What each staff action needs of Django's (global) permissions.
STAFF_PERMISSIONS = {
    Action.VIEW: "sites.view_site",
    Action.VIEW_TESTS: "xero.view_connectiontest",
    Action.CHANGE_DETAILS: "sites.change_site",
    Action.SEE_SECRET_MASK: "sites.view_api_secret_mask",
    Action.DOWNLOAD_CERTIFICATE: "xero.download_certificate",
    Action.RUN_TEST: "xero.run_connection_test",
    Action.ISSUE_CERTIFICATE: "xero.issue_certificate",
    Action.SWITCH_CONNECTION_TYPE: "sites.change_site",
    Action.CONNECT_XERO: "xero.connect_xero",
    Action.DISCONNECT_XERO: "xero.disconnect_xero",
    Action.INVITE: "customers.invite_customer",
}

# The procedure, self-served, on their own Sites only, "Connect to Xero" included (they sign
# in to their own Xero). Certificates are issued and rotated by Admins, the connection type is
# chosen with Staff (switching clears the credentials), and disconnecting, which may revoke a
# consent other Sites share, stays with Admins.
CUSTOMER_ACTIONS = frozenset(
    {
        Action.VIEW,
        Action.VIEW_TESTS,
        Action.CHANGE_DETAILS,
        Action.SEE_SECRET_MASK,
        Action.DOWNLOAD_CERTIFICATE,
        Action.RUN_TEST,
        Action.CONNECT_XERO,
    }
)


def is_customer(user) -> bool:
    """A user of the Customers group (superusers are never fenced in)."""
    return user.is_authenticated and not user.is_superuser and user.has_perm(CUSTOMER_PERMISSION)


def customer_sites(user) -> QuerySet[Site]:
    """The Sites ``user`` is a member of."""
    return Site.objects.filter(memberships__user=user)


def site_for(user, code: str, action: Action) -> Site:
    """The Site ``code`` if ``user`` may do ``action`` to it.

    A customer gets 404 for any Site not theirs (it does not confirm the Site exists), and 403
    for an action customers never do on their own. Staff get 403 without the permission, then
    404 for an unknown code, as before.
    """
    if is_customer(user):
        site = get_object_or_404(customer_sites(user), code=code)
        if action not in CUSTOMER_ACTIONS:
            raise PermissionDenied
        return site
    return get_object_or_404(sites_for(user, action), code=code)


def sites_for(user, action: Action) -> QuerySet[Site]:
    """The Sites ``user`` may do ``action`` to, for a page that does not name its Site (Xero's
    callback): a customer's own, or every Site for Staff; 403 if the user never does it."""
    if is_customer(user):
        if action not in CUSTOMER_ACTIONS:
            raise PermissionDenied
        return customer_sites(user)
    if not user.has_perm(STAFF_PERMISSIONS[action]):
        raise PermissionDenied
    return Site.objects.all()


def page_flags(user, site: Site) -> dict:
    """The ``can_*`` flags of a Site's pages, one per action, from the same rules."""
    customer = is_customer(user)
    member = customer and customer_sites(user).filter(pk=site.pk).exists()

    def can(action):
        if customer:
            return member and action in CUSTOMER_ACTIONS
        return user.has_perm(STAFF_PERMISSIONS[action])

    return {
        "is_customer": customer,
        "can_change_details": can(Action.CHANGE_DETAILS),
        "can_see_secret_mask": can(Action.SEE_SECRET_MASK),
        "can_download_certificate": can(Action.DOWNLOAD_CERTIFICATE),
        "can_issue_certificate": can(Action.ISSUE_CERTIFICATE),
        "can_run_connection_test": can(Action.RUN_TEST),
        "can_view_connection_tests": can(Action.VIEW_TESTS),
        "can_switch_connection_type": can(Action.SWITCH_CONNECTION_TYPE),
        "can_connect_xero": can(Action.CONNECT_XERO),
        "can_disconnect_xero": can(Action.DISCONNECT_XERO),
        "can_invite": can(Action.INVITE),
    }
