"""Thin views: check permission, validate, call a service, show the result."""

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sites.models import Site

from . import selectors
from .admin import certificate_summary
from .exceptions import ConnectionTestCooldown, XeroError
from .fleet import fleet_checks_enqueue
from .forms import CertificateIssueForm, FleetCheckForm
from .models import Certificate, ConnectionTest
from .services import (
    certificate_activate,
    certificate_issue,
    certificate_record_download,
    connection_test_run,
)


def _back(request, site):
    """Where a POST returns to: the page it came from, else the Site's admin page."""
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return redirect(next_url)
    return redirect(reverse("admin:sites_site_change", args=[site.pk]))


@require_POST
@login_required
@permission_required("xero.issue_certificate", raise_exception=True)
def certificate_issue_view(request, code):
    site = get_object_or_404(Site, code=code)
    form = CertificateIssueForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
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


@require_POST
@login_required
@permission_required("xero.issue_certificate", raise_exception=True)
def certificate_activate_view(request, code, pk):
    certificate = get_object_or_404(Certificate, site__code=code, pk=pk)
    try:
        certificate_activate(certificate=certificate, user=request.user, note="promoted by hand")
    except XeroError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The pending certificate is now active; the old one is retired.")
    return _back(request, certificate.site)


@require_GET
@login_required
@permission_required("xero.download_certificate", raise_exception=True)
def certificate_download_view(request, code, pk):
    certificate = get_object_or_404(
        Certificate.objects.select_related("site"), site__code=code, pk=pk
    )
    certificate_record_download(certificate=certificate, user=request.user)
    response = HttpResponse(certificate.certificate_pem, content_type="application/pkix-cert")
    response["Content-Disposition"] = f'attachment; filename="{certificate.download_filename}"'
    return response


@require_POST
@login_required
@permission_required("xero.run_connection_test", raise_exception=True)
def connection_test_view(request, code):
    site = get_object_or_404(Site, code=code)
    try:
        test = connection_test_run(site=site, user=request.user)
    except ConnectionTestCooldown as error:
        messages.warning(request, error.message)
        return _back(request, site)
    if test.passed:
        messages.success(request, f"Connection test passed. {test.message}")
    else:
        messages.error(request, f"Connection test failed: {test.message}")
    return _back(request, site)


HEALTH_PAGE_SIZE = 100


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
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(request.get_full_path())
        if form.cleaned_data["action"] == FleetCheckForm.TEST_FAILING:
            site_ids = selectors.site_health_list(filter=selectors.FAILING).values("pk")
        else:
            site_ids = form.cleaned_data["sites"]
        queued = fleet_checks_enqueue(site_ids=site_ids, user=request.user)
        messages.success(
            request,
            f"Queued {queued} Site test{'s' * (queued != 1)}; the results appear here as the "
            "worker runs them. Sites already queued were not queued again.",
        )
        return redirect(request.get_full_path())

    current = request.GET.get("filter", "")
    search = request.GET.get("q", "")
    sites = selectors.site_health_list(filter=current, search=search)
    page = Paginator(sites, HEALTH_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for site in page:
        site.certificate_text, site.certificate_flagged = certificate_summary(
            expires_at=site.active_certificate_expires,
            has_pending=site.has_pending_certificate,
            now=now,
        )
        site.days_to_expiry = (
            (site.active_certificate_expires - now).days
            if site.active_certificate_expires
            else None
        )
    context = {
        **admin.site.each_context(request),
        "title": "Xero health",
        "page": page,
        "filters": [("", "All"), *selectors.HEALTH_FILTERS.items()],
        "current_filter": current,
        "search": search,
        "can_run_connection_test": request.user.has_perm("xero.run_connection_test"),
        "passed": ConnectionTest.PASSED,
    }
    return render(request, "xero/health.html", context)
