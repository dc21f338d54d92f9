"""Thin views: check permission, validate, call a service, show the result."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from sites.models import Site

from .exceptions import ConnectionTestCooldown, XeroError
from .forms import CertificateIssueForm
from .models import Certificate
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
