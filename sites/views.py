"""The audit trail's pages: the log of every Site (with a CSV export) and the per-Site
timeline that the Site's admin page and its setup page include."""

import csv
import datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors
from .forms import AuditFilterForm, AuditKindForm
from .models import AuditEntry, Site

AUDIT_PAGE_SIZE = 50
TIMELINE_PAGE_SIZE = 20
# A spreadsheet runs a cell that starts with one of these as a formula.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ["When (UTC)", "Kind", "Site code", "Site name", "User", "Via", "IP address"]


def can_see_timeline(user, site: Site | None = None) -> bool:
    """Whoever may see a Site sees its timeline (Staff, Admins, Support)."""
    return user.has_perm("sites.view_site")


def audit_timeline_context(request, site: Site) -> dict:
    """The context of ``sites/_audit_timeline.html``: one page of ``site``'s rows."""
    if not can_see_timeline(request.user, site):
        return {"audit_timeline": None}
    form = AuditKindForm(request.GET)
    kind = form.cleaned_data["audit_kind"] if form.is_valid() else ""
    entries = selectors.audit_entries(site_pk=site.pk, kind=kind)
    page = Paginator(entries, TIMELINE_PAGE_SIZE).get_page(request.GET.get("audit_page"))
    present = set(selectors.audit_kinds_of_site(site_pk=site.pk))
    return {
        "audit_timeline": {
            "page": page,
            "kind": kind,
            # The kinds this Site has rows of, in the vocabulary's order: its filter links.
            "kinds": [
                (value, label) for value, label in AuditEntry.Kind.choices if value in present
            ],
            "can_see_log": request.user.has_perm("sites.view_audit_log"),
            "site": site,
        }
    }


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(CSV_FORMULA_STARTS):
        # A leading apostrophe makes spreadsheets show the text instead of running it.
        return "'" + text
    return text


def _audit_csv(entries) -> HttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow([*CSV_COLUMNS, "Summary", "Changes"])
    for entry in entries.iterator():
        row = [
            entry.timestamp.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            entry.get_kind_display(),
            entry.site_code,
            entry.site_name,
            # As the page: the user, none for a command or the system (the Via column says).
            entry.actor_username,
            entry.via,
            entry.remote_addr or "",
            entry.summary,
            "; ".join(line["text"] for line in entry.change_lines()),
        ]
        writer.writerow([_csv_cell(cell) for cell in row])
    return response


@require_GET
def audit_log_view(request):
    """Every Site's audit rows for Admins and Support, filtered, paged, or as CSV."""
    if not request.user.has_perm("sites.view_audit_log"):
        raise PermissionDenied
    form = AuditFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.audit_entries(**{k: v for k, v in filters.items() if v})
    if request.GET.get("export") == "csv" and form.is_valid():
        return _audit_csv(entries)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("export", None)
    context = {
        **admin.site.each_context(request),
        "title": "Audit log",
        "form": form,
        "page": page,
        "query": query.urlencode(),
    }
    return render(request, "sites/audit_log.html", context)
