"""What leaves the Warehouse as CSV, made safe to open in a spreadsheet."""

import csv
import datetime

from sites.models import Site

from .models import ConnectionTest
from .panels import certificate_summary

# A cell starting with one of these runs as a formula in Excel, LibreOffice or Sheets (CSV
# injection, OWASP): a Site name or an organisation name Xero sent could start with "=".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

HEALTH_COLUMNS = [
    "Site",
    "Code",
    "Connection type",
    "Last test outcome",
    "Outcome code",
    "Last tested (UTC)",
    "Test queued",
    "Xero organisation",
    "Certificate",
]


def csv_cell(value) -> str:
    """``value`` as text a spreadsheet shows as text: a leading formula character is quoted
    with an apostrophe, which spreadsheets hide."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def health_csv_write(out, *, sites, now: datetime.datetime) -> None:
    """Write one row per Site (annotated ``with_health``) of the health page to ``out``."""
    writer = csv.writer(out)
    writer.writerow(HEALTH_COLUMNS)
    for site in sites.iterator(chunk_size=500):
        if site.signs_with_certificate:
            certificate, _flagged = certificate_summary(
                expires_at=site.active_certificate_expires,
                has_pending=site.has_pending_certificate,
                now=now,
            )
        else:
            certificate = "Not used"
        tested = site.last_test_at
        # A Connect to Xero Site with no organisation reads "Not connected", as on the page.
        outcome = (
            ConnectionTest.Outcome.NOT_CONNECTED if site.not_connected else site.last_test_outcome
        )
        writer.writerow(
            csv_cell(value)
            for value in [
                site.name,
                site.code,
                Site.ConnectionType(site.connection_type).label,
                ConnectionTest.Outcome.label_of(outcome) if outcome else "Never tested",
                outcome or "",
                tested.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if tested else "",
                "yes" if site.queued else "no",
                site.xero_organisation_name,
                certificate,
            ]
        )
