"""Thin views: check permission, validate, call a service, show the result."""

import logging
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DatabaseError, OperationalError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.access import Action, is_customer, site_for, sites_for
from sites.forms import SiteXeroCredentialsForm
from sites.models import Site
from sites.roles import ADMINS
from sites.services import site_save, site_switch_connection_type
from sites.views import audit_timeline_context
from warehouse import database
from warehouse.sudo import ask_unless_fresh, fresh_second_factor_required

from . import connect, link_alerts, panels, pausing, selectors, tiers, web_app
from .certificates import APPLICATION_NAME
from .customer_alerts import customer_test_alert_send
from .exceptions import (
    CertificateNotReactivatable,
    ConnectionTestCooldown,
    FleetEnqueueFailed,
    WarehouseBusy,
    XeroError,
)
from .exports import health_csv_write
from .forms import AlertPreferencesForm, CertificateIssueForm, FleetCheckForm, is_record_id
from .models import Certificate, ConnectionTest, UnboundConnection
from .services import (
    certificate_activate,
    certificate_issue,
    certificate_reactivate,
    certificate_record_download,
    connection_test_run,
    connection_tests_interrupt_stale,
)
from .tasks import fleet_checks_enqueue, replaced_tokens_revoke_enqueue

logger = logging.getLogger(__name__)

DATABASE_TROUBLE = (
    "The Warehouse's database was busy or refused a change just now; the test's result may "
    "not all be recorded. Reload the page, and test again in a minute if it is missing."
)


def _back(request, site):
    """Where a POST (or a confirmation page's answer) returns to: the page it came from,
    else the Site's admin page."""
    next_url = request.POST.get("next", "") or request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect(reverse("admin:sites_site_change", args=[site.pk]))


def _report_form_errors(request, form):
    """A form posted from a page it does not render: its errors go back as messages."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@require_POST
@login_required
@fresh_second_factor_required
def certificate_issue_view(request, code):
    site = site_for(request.user, code, Action.ISSUE_CERTIFICATE)
    form = CertificateIssueForm(request.POST)
    if not form.is_valid():
        _report_form_errors(request, form)
        return _back(request, site)
    try:
        certificate = certificate_issue(site=site, issued_by=request.user, **form.cleaned_data)
    except XeroError as error:
        messages.error(request, error.message)
        return _back(request, site)
    if certificate.state == Certificate.State.ACTIVE:
        messages.success(request, "Certificate issued. Paste it into the Xero application.")
    else:
        messages.success(
            request,
            "New certificate issued as pending. The current one stays active until the new one "
            "is pasted into Xero and a connection test passes with it.",
        )
    return _back(request, site)


def _certificate_confirm(request, site, certificate, template, title):
    """The page that asks before a certificate changes state, naming both certificates."""
    active = Certificate.objects.filter(site=site).active().first()
    context = {
        **admin.site.each_context(request),
        "title": title,
        "site": site,
        "certificate": certificate,
        "active": active,
        "has_pending": Certificate.objects.filter(site=site).pending().exists(),
        "reactivation_hours": settings.XERO_CERTIFICATE_REACTIVATION_HOURS,
        "next": _next_url(request),
    }
    return render(request, template, context)


def _next_url(request) -> str:
    """Where the confirmation page's answer returns: the page that asked, when it is ours."""
    next_url = request.GET.get("next", "") or request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return next_url
    return ""


@require_http_methods(["GET", "POST"])
@login_required
@fresh_second_factor_required
def certificate_activate_view(request, code, pk):
    """GET asks first, saying what happens if Xero does not hold the new certificate yet;
    POST (from that page) makes it active and retires the old one."""
    site = site_for(request.user, code, Action.ISSUE_CERTIFICATE)
    certificate = get_object_or_404(Certificate, site=site, pk=pk)
    if request.method == "GET":
        if certificate.state != Certificate.State.PENDING:
            return _back(request, site)
        return _certificate_confirm(
            request,
            site,
            certificate,
            "xero/certificate_activate_confirm.html",
            f"Make {certificate.short_label} active now?",
        )
    try:
        certificate_activate(certificate=certificate, user=request.user, note="promoted by hand")
    except XeroError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"The pending certificate is now active (…{certificate.serial_end}); the old one is "
            "retired. Test the connection to check that Xero holds the new one.",
        )
    return _back(request, certificate.site)


@require_http_methods(["GET", "POST"])
@login_required
@fresh_second_factor_required
def certificate_reactivate_view(request, code, pk):
    """GET asks first; POST (from that page) makes a just-retired certificate active again."""
    site = site_for(request.user, code, Action.ISSUE_CERTIFICATE)
    certificate = get_object_or_404(Certificate, site=site, pk=pk)
    if request.method == "GET":
        if not certificate.can_be_reactivated():
            messages.error(
                request,
                CertificateNotReactivatable(
                    hours=settings.XERO_CERTIFICATE_REACTIVATION_HOURS
                ).message,
            )
            return _back(request, site)
        return _certificate_confirm(
            request,
            site,
            certificate,
            "xero/certificate_reactivate_confirm.html",
            f"Make the retired certificate …{certificate.serial_end} active again?",
        )
    try:
        certificate_reactivate(certificate=certificate, user=request.user)
    except XeroError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"The certificate …{certificate.serial_end} is active again. Test the connection "
            "to check that Xero holds it.",
        )
    return _back(request, certificate.site)


@require_GET
@login_required
def certificate_download_view(request, code, pk):
    site = site_for(request.user, code, Action.DOWNLOAD_CERTIFICATE)
    certificate = get_object_or_404(Certificate.objects.select_related("site"), site=site, pk=pk)
    certificate_record_download(certificate=certificate, user=request.user)
    response = HttpResponse(certificate.certificate_pem, content_type="application/pkix-cert")
    response["Content-Disposition"] = f'attachment; filename="{certificate.download_filename}"'
    return response


# Seconds the writes after a test run by hand may wait for the database's lock.
AFTER_TEST_LOCK_WAIT = 0.25


@require_POST
@login_required
def connection_test_view(request, code):
    site = site_for(request.user, code, Action.RUN_TEST)
    try:
        test = connection_test_run(site=site, user=request.user, audited=True)
    except ConnectionTestCooldown as error:
        messages.warning(request, error.message)
        return _back(request, site)
    except WarehouseBusy as error:
        messages.error(request, f"Connection test not run: {error.message}")
        return _back(request, site)
    except DatabaseError:
        # After the result was kept (e.g. promoting the certificate that passed).
        logger.exception("Connection test of site %s: database error", site.code)
        messages.error(request, DATABASE_TROUBLE)
        return _back(request, site)
    link_base = request.build_absolute_uri("/").rstrip("/")
    # What follows the result waits for the database a moment only, and not at all when our
    # own database kept the test from a verdict (it says nothing about the link): with a lock
    # held past the test's budget the page still answers within it, and what was not written
    # (alerts, the end of a circuit breaker) is done by the next test or check.
    if test.outcome not in ConnectionTest.Outcome.not_a_verdict():
        try:
            with database.lock_waits_at_most(AFTER_TEST_LOCK_WAIT):
                if is_customer(request.user):
                    customer_test_alert_send(test=test, link_base=link_base)
                pausing.someone_acted(site=site)
                if not pausing.is_paused(site):
                    link_alerts.link_alerts_send(site=site, test=test, link_base=link_base)
        except OperationalError as error:
            logger.warning("Site %s: alerts left to the next check: %s", site.code, error)
        except Exception:
            # Not recorded, so the next check sends it; the result is shown regardless.
            logger.exception("Could not send the link alerts of site %s", site.code)
    if test.passed:
        messages.success(request, f"Connection test passed. {test.message}")
    else:
        # The message itself is shown once, in the result panel below, not here again.
        messages.error(
            request, f"Connection test failed: {test.outcome_label}. The result below says why."
        )
    return _back(request, site)


@require_http_methods(["GET", "POST"])
@login_required
def setup_view(request, code):
    """The Xero setup procedure for one Site, each step with its state and its controls."""
    site = site_for(request.user, code, Action.VIEW)
    connection_tests_interrupt_stale(site=site)
    details_form = None
    if request.method == "POST":
        site = site_for(request.user, code, Action.CHANGE_DETAILS)
        changes_secret = SiteXeroCredentialsForm.changes_api_secret(request.POST)
        if changes_secret and (asked := ask_unless_fresh(request)) is not None:
            return asked
        # A copy, so that a refused save leaves the page showing what is stored.
        details_form = SiteXeroCredentialsForm(
            request.POST,
            instance=Site.objects.get(pk=site.pk),
            customer=is_customer(request.user),
        )
        # One transaction: the form claims the Site's next version (refusing a stale save)
        # and the save commits with it.
        with transaction.atomic():
            saved = details_form.is_valid()
            if saved:
                site_save(site=details_form.instance)
        if saved:
            messages.success(request, "Xero Details saved.")
            return redirect(reverse("xero:setup", args=[site.code]) + "#step-xero_details")
        messages.error(request, "The Xero Details were not saved: see the errors below.")
    context = {
        **panels.setup_context(request, site, details_form),
        **audit_timeline_context(request, site),
    }
    response = render(request, "xero/setup.html", context)
    if site.connection_type == Site.ConnectionType.WEB_APP:
        # The answer to "Connect to Xero" redirects to Xero's sign-in page, and browsers hold
        # a form's redirects to the form-action of the page the form is on.
        # django-csp's per-response attribute (mypy: attr-defined, unknown to the stubs).
        response._csp_update = {"form-action": [web_app.authorize_origin()]}  # type: ignore[attr-defined]
    return response


# Each switch a Site's pages offer (its setup page and its admin page alike): what the
# confirmation page calls the new type, what it says of it, and the message once switched.
# Every switch clears the Key and Secret, so every switch asks first.
SWITCHES = {
    Site.ConnectionType.PRIVATE_APP: {
        "target": "a private application",
        "about": (
            "A private application (OAuth 1.0a) works only against a Xero-compatible server "
            "(Xero retired them): it has its own Consumer Key and Secret, copied after the "
            "switch, and signs with a certificate the Warehouse issues."
        ),
        "done": (
            "This Site is now a private application. Follow the steps below: issue a "
            "certificate, then paste its Consumer Key and Secret."
        ),
    },
    Site.ConnectionType.CUSTOM_CONNECTION: {
        "target": "a Custom Connection",
        "about": (
            "A Custom Connection (OAuth 2.0) has its own Client ID and Client Secret, which you "
            "copy from Xero's developer portal after the switch."
        ),
        "done": (
            "This Site now connects through a Custom Connection. Follow the steps below to "
            "create one in Xero's developer portal and paste its Client ID and Secret."
        ),
    },
    Site.ConnectionType.WEB_APP: {
        "target": "Connect to Xero",
        "about": (
            "Connect to Xero uses the Warehouse's own Xero app: the customer signs in to Xero "
            "and allows access, and there is nothing to copy."
        ),
        "done": (
            "This Site now connects through the Warehouse's Xero app. Press Connect to Xero "
            "below and have the customer sign in to Xero and allow access."
        ),
    },
}


# What the cancel button of a switch keeps, by the Site's type now.
KEEP_LABELS: dict[str, str] = {
    Site.ConnectionType.PRIVATE_APP: "No, keep the private application",
    Site.ConnectionType.CUSTOM_CONNECTION: "No, keep the Custom Connection",
    Site.ConnectionType.WEB_APP: "No, keep Connect to Xero",
}
DISCONNECT_BEFORE_SWITCHING = (
    "This Site is connected to Xero: disconnect it first (that removes its connection in "
    "Xero), then switch its connection type."
)


def _switch_connection_type(request, code, connection_type):
    """GET asks first, naming what the switch clears; POST (from that page) switches."""
    site = site_for(request.user, code, Action.SWITCH_CONNECTION_TYPE)
    if site.connection_type == connection_type:
        return redirect("xero:setup", code=site.code)
    if selectors.tenant_binding(site=site) is not None:
        messages.error(request, DISCONNECT_BEFORE_SWITCHING)
        return redirect(_setup_url(site, "open_xero"))
    switch = SWITCHES[connection_type]
    if request.method == "GET":
        context = {
            **admin.site.each_context(request),
            "title": f"Switch {site.name} to {switch['target']}?",
            "site": site,
            "switch": switch,
            "keep_label": KEEP_LABELS[site.connection_type],
            "private": site.connection_type == Site.ConnectionType.PRIVATE_APP,
        }
        return render(request, "xero/switch_confirm.html", context)
    site_switch_connection_type(site=site, connection_type=connection_type)
    messages.success(request, switch["done"])
    return redirect("xero:setup", code=site.code)


@require_http_methods(["GET", "POST"])
@login_required
def switch_to_custom_connection_view(request, code):
    return _switch_connection_type(request, code, Site.ConnectionType.CUSTOM_CONNECTION)


@require_http_methods(["GET", "POST"])
@login_required
def switch_to_private_app_view(request, code):
    return _switch_connection_type(request, code, Site.ConnectionType.PRIVATE_APP)


@require_http_methods(["GET", "POST"])
@login_required
def switch_to_web_app_view(request, code):
    return _switch_connection_type(request, code, Site.ConnectionType.WEB_APP)


HEALTH_PAGE_SIZE = 100
# How often the health page's script asks for the results of queued tests.
HEALTH_POLL_SECONDS = 4


def _sites(count: int) -> str:
    return f"{count} Site{'s' * (count != 1)}"


def _queued_message(result) -> str:
    """What one press of *Test selected* or *Test all failing* did, and only that."""
    said = []
    if result.queued:
        said.append(f"Queued {result.queued} Site test{'s' * (result.queued != 1)}")
    if result.requeued:
        said.append(f"queued {_sites(result.requeued)} again after a worker stopped")
    if result.already_queued:
        were = "was" if result.already_queued == 1 else "were"
        said.append(f"{_sites(result.already_queued)} {were} already queued")
    text = "; ".join(said)
    return f"{text[0].upper()}{text[1:]}. The results appear here as the worker runs the tests."


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("sites.view_site", raise_exception=True)
def health_view(request):
    """Every Site's Xero health; Support and Admins queue background tests from here."""
    if request.method == "POST":
        if not request.user.has_perm("xero.run_connection_test"):
            raise PermissionDenied
        form = FleetCheckForm(request.POST)
        if not form.is_valid():
            _report_form_errors(request, form)
            return redirect(request.get_full_path())
        if form.cleaned_data["action"] == FleetCheckForm.TEST_FAILING:
            site_ids = selectors.site_health_list(filter=selectors.FAILING).values("pk")
        else:
            site_ids = form.cleaned_data["sites"]
        try:
            result = fleet_checks_enqueue(site_ids=site_ids, user=request.user)
        except FleetEnqueueFailed as failure:
            messages.error(request, failure.message)
            return redirect(request.get_full_path())
        if result.unconfirmed is not None:
            messages.warning(request, result.unconfirmed.message)
        elif result.queued or result.already_queued or result.requeued:
            messages.success(request, _queued_message(result))
        else:
            messages.info(request, "No Site is failing: there is nothing to test.")
        return redirect(request.get_full_path())

    connection_tests_interrupt_stale()
    current = request.GET.get("filter", "")
    search = request.GET.get("q", "")
    sites = selectors.site_health_list(filter=current, search=search)
    page = Paginator(sites, HEALTH_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    # Sites with ``with_health``'s columns, which django-stubs cannot follow from the
    # selector; the page's own columns are set on them for the template.
    site: Any
    for site in page:
        site.certificate_text, site.certificate_flagged = panels.certificate_summary(
            expires_at=site.active_certificate_expires,
            has_pending=site.has_pending_certificate,
            now=now,
        )
    context = {
        **admin.site.each_context(request),
        "title": "Xero health",
        "page": page,
        "filters": [("", "All"), *selectors.HEALTH_FILTERS.items()],
        "current_filter": current,
        "search": search,
        "can_run_connection_test": request.user.has_perm("xero.run_connection_test"),
        "poll_seconds": HEALTH_POLL_SECONDS,
        "token_sets_needing_attention": selectors.token_sets_needing_attention(),
        "incidents": selectors.xero_incidents(now=now),
        "skipped": selectors.fleet_skipped_counts(),
        "tier": tiers.tier_summary(),
        "can_disconnect_unbound": _is_admin(request.user),
    }
    return render(request, "xero/health.html", context)


@require_GET
@login_required
@permission_required("sites.view_site", raise_exception=True)
def health_status_view(request):
    """The last test of the Sites in ``?site=<id>&site=<id>``, as the health page shows it:
    its script polls this while tests are queued. Anything but a record's id (``²``, a
    30-digit number) is refused plainly: the script never sends one."""
    values = request.GET.getlist("site")
    if not all(is_record_id(value) for value in values):
        return JsonResponse(
            {"error": "Each site parameter must be a Site's id (digits 0 to 9)."}, status=400
        )
    ids = [int(value) for value in values]
    sites = selectors.with_health(Site.objects.filter(pk__in=ids[:HEALTH_PAGE_SIZE]))
    return JsonResponse(
        {
            "sites": [
                {
                    "id": site.pk,
                    "queued": site.queued,  # type: ignore[attr-defined]  # with_health's
                    "last_test_html": render_to_string(
                        "xero/_health_last_test.html",
                        {"site": site},
                    ),
                }
                for site in sites
            ]
        }
    )


@require_GET
@login_required
@permission_required("sites.view_site", raise_exception=True)
def health_csv_view(request):
    """The health page's Sites, as filtered and searched there, every page of them, as CSV."""
    current = request.GET.get("filter", "")
    # Only a known filter names the file: the parameter is the user's to type.
    current = current if current in selectors.HEALTH_FILTERS else ""
    sites = selectors.site_health_list(filter=current, search=request.GET.get("q", ""))
    now = timezone.now()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"xero-health-{current or 'all'}-{now:%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    health_csv_write(response, sites=sites, now=now)
    return response


# How many connection tests a page of a Site's full history lists.
HISTORY_PAGE_SIZE = 50


@require_GET
@login_required
def connection_tests_view(request, code):
    """Every connection test of one Site, newest first, a page at a time; a customer sees
    their own Sites' (with Imagatec's people named "Imagatec support")."""
    site = site_for(request.user, code, Action.VIEW_TESTS)
    tests = site.connection_tests.select_related("run_by", "certificate")
    page = Paginator(tests, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **_connect_page_context(request),
        "title": f"Connection tests: {site.name}",
        "site": site,
        "page": page,
    }
    return render(request, "xero/connection_tests.html", context)


# "Connect to Xero" ------------------------------------------------------------------------


def _setup_url(site, anchor="") -> str:
    return reverse("xero:setup", args=[site.code]) + (f"#step-{anchor}" if anchor else "")


def _connect_page_context(request) -> dict:
    """The admin's context for the pages of the flow, which customers reach too: the admin's
    sidebar lists the models one may see, for a customer none."""
    context = admin.site.each_context(request)
    context["is_customer"] = is_customer(request.user)
    if context["is_customer"]:
        context["is_nav_sidebar_enabled"] = False
    return context


def _connect_problem(request, error: XeroError, site=None, status=400):
    """A plain page for a connection that did not happen; nothing was stored."""
    context = {
        **_connect_page_context(request),
        "title": "Not connected to Xero",
        "error": error,
        "site": site,
    }
    return render(request, "xero/connect_problem.html", context, status=status)


@require_POST
@login_required
def connect_view(request, code):
    """Send the browser to Xero's consent page for this Site."""
    site = site_for(request.user, code, Action.CONNECT_XERO)
    try:
        url = connect.connect_start(
            site=site,
            store=request.session,
            redirect_uri=request.build_absolute_uri(reverse("xero:callback")),
        )
    except XeroError as error:
        messages.error(request, error.message)
        return redirect(_setup_url(site, "open_xero"))
    return redirect(url)


@require_GET
@login_required
def callback_view(request):
    """Where Xero sends the browser back after the consent page."""
    try:
        result = connect.connect_callback(
            params=request.GET,
            store=request.session,
            sites=sites_for(request.user, Action.CONNECT_XERO),
            user=request.user,
        )
    except XeroError as error:
        return _connect_problem(request, error, site=getattr(error, "site", None))
    if result.revocations_pending:
        replaced_tokens_revoke_enqueue()
    if result.binding is None:
        return redirect("xero:connect_choose", code=result.site.code)
    messages.success(
        request,
        f"Connected to Xero: this Site reaches {result.binding.tenant_name}. "
        "Test the connection to check it.",
    )
    return redirect(_setup_url(result.site, "connection_test"))


@require_http_methods(["GET", "POST"])
@login_required
def connect_choose_view(request, code):
    """The consent added several organisations: which one is this Site's?"""
    site = site_for(request.user, code, Action.CONNECT_XERO)
    choices = connect.pending_choice(site=site, store=request.session)
    if not choices:
        return _connect_problem(request, connect.state_invalid(), site=site)
    error = None
    if request.method == "POST":
        try:
            chosen = connect.connect_choose(
                site=site,
                tenant_id=request.POST.get("tenant", ""),
                store=request.session,
                user=request.user,
            )
        except XeroError as problem:
            error = problem
        else:
            disconnected = ""
            if chosen.disconnected:
                disconnected = (
                    f" {', '.join(chosen.disconnected)} (also allowed in Xero) "
                    f"{'was' if len(chosen.disconnected) == 1 else 'were'} disconnected "
                    "from the Warehouse's app in Xero."
                )
            messages.success(
                request,
                f"Connected to Xero: this Site reaches {chosen.binding.tenant_name}."
                f"{disconnected} Test the connection to check it.",
            )
            if chosen.warning:
                messages.warning(request, chosen.warning)
            return redirect(_setup_url(site, "connection_test"))
    context = {
        **_connect_page_context(request),
        "title": f"Choose {site.name}'s Xero organisation",
        "site": site,
        "choices": choices,
        "application_name": APPLICATION_NAME,
        "replacing": connect.pending_replacing(site=site, store=request.session),
        "error": error,
    }
    return render(request, "xero/connect_choose.html", context, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
@login_required
@fresh_second_factor_required
def disconnect_view(request, code):
    """GET asks first, naming the organisation and whether its access is revoked; POST
    (from that page) disconnects."""
    site = site_for(request.user, code, Action.DISCONNECT_XERO)
    if request.method == "GET":
        binding = selectors.tenant_binding(site=site)
        if binding is None:
            return redirect(_setup_url(site, "open_xero"))
        context = {
            **admin.site.each_context(request),
            "title": f"Disconnect {site.name} from Xero?",
            "site": site,
            "binding": binding,
            "sharing": list(connect.sites_sharing_consent(binding=binding).order_by("name")),
        }
        return render(request, "xero/disconnect_confirm.html", context)
    try:
        result = connect.connect_disconnect(site=site)
    except XeroError as error:
        messages.error(request, f"Not disconnected: {error.message}")
        return redirect(_setup_url(site, "open_xero"))
    messages.success(
        request, "Disconnected from Xero." + (" Access revoked." if result.revoked else "")
    )
    if result.warning:
        messages.warning(request, result.warning)
    return redirect(_setup_url(site, "open_xero"))


@require_http_methods(["GET", "POST"])
@login_required
def alert_preferences_view(request):
    """Your alert settings: for each kind of alert you can get, at once, daily or off."""
    kinds = link_alerts.alert_kinds_for(request.user)
    current = link_alerts.alert_preferences(request.user)
    form = AlertPreferencesForm(request.POST or None, kinds=kinds, current=current)
    if request.method == "POST" and form.is_valid():
        link_alerts.alert_preferences_save(user=request.user, choices=form.cleaned_data)
        messages.success(request, "Your alert settings are saved.")
        return redirect("xero:alert_preferences")
    context = {
        **_connect_page_context(request),
        "title": "Your alert settings",
        "form": form,
        "email": request.user.email,
    }
    return render(
        request, "xero/alert_preferences.html", context, status=400 if form.errors else 200
    )


@require_POST
@login_required
def pause_view(request, code):
    """Staff pause a Site's background checks and alerts, saying why."""
    site = site_for(request.user, code, Action.VIEW)
    if is_customer(request.user) or not request.user.has_perm("sites.change_site"):
        raise PermissionDenied
    try:
        pausing.site_pause(site=site, reason=request.POST.get("reason", ""), user=request.user)
    except XeroError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Paused: the fleet check skips this Site and nothing alerts.")
    return redirect(reverse("xero:setup", args=[site.code]) + "#xero-checks")


@require_POST
@login_required
def resume_view(request, code):
    """Resume a paused Site's background checks and alerts."""
    site = site_for(request.user, code, Action.VIEW)
    if is_customer(request.user) or not request.user.has_perm("sites.change_site"):
        raise PermissionDenied
    if pausing.site_resume(site=site, user=request.user):
        messages.success(request, "Resumed: the next fleet check tests this Site again.")
    return redirect(reverse("xero:setup", args=[site.code]) + "#xero-checks")


def _is_admin(user) -> bool:
    return user.is_superuser or user.groups.filter(name=ADMINS).exists()


@require_POST
@login_required
def unbound_disconnect_view(request, pk):
    """Admins disconnect an organisation connected to the app that no Site uses."""
    if not _is_admin(request.user):
        raise PermissionDenied
    unbound = get_object_or_404(UnboundConnection, pk=pk)
    try:
        tiers.unbound_disconnect(unbound=unbound)
    except XeroError as error:
        messages.error(request, f"{unbound} was not disconnected: {error.message}")
    else:
        messages.success(request, f"Disconnected {unbound} from the Warehouse's Xero app.")
    return redirect(reverse("xero:health") + "#xero-tier")
