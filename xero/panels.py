"""What the Xero panels of a Site's page and its setup page show, for the user asking.

The view side of ``xero/selectors.py``: these builders take the request, check what the
user may do, build the forms, and word the data for the templates; the reads themselves
are selectors.
"""

import datetime

from django.conf import settings
from django.contrib import admin
from django.utils import timezone

from customers.access import page_flags
from sites.forms import SiteXeroCredentialsForm
from sites.models import Site

from . import certificates, selectors, steps, web_app
from .forms import CertificateIssueForm
from .models import EXPIRY_WARNING_DAYS, Certificate, CircuitBreaker, SitePause


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


def certificate_context(request, site: Site) -> dict:
    """What the certificate panel shows, in a fixed number of queries."""
    certificates = selectors.site_certificates(site=site)
    now = timezone.now()
    current = Certificate.current_order(certificates)
    return {
        "site": site,
        "certificates": certificates,
        "current_certificates": current,
        "reactivatable_certificates": [c for c in certificates if c.can_be_reactivated(now)],
        # Any of these may be the one pasted in Xero: the current ones, then every retired
        # one not expired yet (a Signature invalid result compares them all with Xero's).
        "fingerprint_certificates": current
        + [
            c
            for c in certificates
            if c.state == Certificate.State.RETIRED and c.not_valid_after > now
        ],
        "certificate_issue_form": CertificateIssueForm(),
        "can_issue_certificate": request.user.has_perm("xero.issue_certificate"),
        "can_download_certificate": request.user.has_perm("xero.download_certificate"),
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
    }


def connection_test_context(request, site: Site) -> dict:
    """The last connection tests of a Site, newest first, in one query."""
    tests = selectors.site_connection_tests(site=site)
    for test in tests:
        test.step_title = steps.title(test.connection_type, test.step)  # type: ignore[attr-defined]  # for the template
    return {
        "connection_tests": tests,
        "last_connection_test": tests[0] if tests else None,
        # Which certificate Xero last accepted, when a recent test tells: a signature_invalid
        # result marks it among the Site's certificates.
        "last_passed_certificate_id": next((t.certificate_id for t in tests if t.passed), None),
        "can_run_connection_test": request.user.has_perm("xero.run_connection_test"),
        "can_view_connection_tests": request.user.has_perm("xero.view_connectiontest"),
    }


def setup_context(request, site: Site, details_form=None) -> dict:
    """The setup page: every step with its state, and the controls the user's role may use."""
    context = {
        **admin.site.each_context(request),
        **certificate_context(request, site),
        **connection_test_context(request, site),
        "title": f"Xero setup: {site.name}",
        "site": site,
        "private": site.connection_type == Site.ConnectionType.PRIVATE_APP,
        # Who may do what here, customers included: one set of rules (customers.access).
        **page_flags(request.user, site),
        "app_centre_url": steps.XERO_APP_CENTRE_URL,
        "application_name": certificates.APPLICATION_NAME,
        "scopes": settings.XERO_SCOPES
        + (settings.XERO_PAYROLL_SCOPES if site.payroll_enabled else []),
    }
    if context["is_customer"]:
        # The admin's sidebar lists the models one may see: for a customer, none.
        context["is_nav_sidebar_enabled"] = False
    # Certificate.objects.current()'s rule, on the certificates already loaded.
    context["certificate_to_paste"] = next(iter(context["current_certificates"]), None)
    if details_form is None and context["can_change_details"]:
        details_form = SiteXeroCredentialsForm(instance=site)
    context["details_form"] = details_form
    context.update(web_app_context(request, site))
    context.update(superseded_context(site, context))
    context["pause"] = SitePause.objects.select_related("paused_by").filter(site=site).first()
    context["circuit"] = CircuitBreaker.objects.filter(site=site).first()
    context["can_pause"] = not context["is_customer"] and request.user.has_perm("sites.change_site")
    context["steps"] = steps.setup_steps(
        site=site,
        certificate=context["certificate_to_paste"],
        last_test=context["last_connection_test"],
        binding=context["binding"],
        superseded=context["last_test_superseded"],
    )
    return context


def superseded_context(site: Site, context: dict) -> dict:
    """Whether a change since the last test made its result obsolete, from the
    certificates, tests and binding ``context`` already holds (no query)."""
    return {
        "last_test_superseded": steps.test_superseded(
            site=site,
            test=context["last_connection_test"],
            certificates=context.get("certificates", ()),
            binding=context.get("binding"),
        )
    }


def web_app_context(request, site: Site) -> dict:
    """A "Connect to Xero" Site's organisation and who connected it, and the scopes it asks
    for (whether the user may connect or disconnect it is in ``page_flags``)."""
    is_web_app = site.connection_type == Site.ConnectionType.WEB_APP
    return {
        "web_app": is_web_app,
        "binding": selectors.tenant_binding(site=site) if is_web_app else None,
        "web_app_scopes": web_app.scopes_for(payroll=site.payroll_enabled),
    }
