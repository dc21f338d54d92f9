"""The audit trail's pages (sites/views.py): the per-Site timeline on the Site's admin page
and its setup page, the global log with its filters and CSV export, and who sees what."""

import csv
import io

import pytest
from django.urls import reverse

from sites import audit
from sites.models import AuditEntry
from sites.roles import SUPPORT
from sites.views import TIMELINE_PAGE_SIZE
from tests.conftest import CONSUMER_SECRET

Kind = AuditEntry.Kind
LOG = reverse("sites:audit_log")


def change_url(site):
    return reverse("admin:sites_site_change", args=[site.pk])


def setup_url(site):
    return reverse("xero:setup", args=[site.code])


@pytest.mark.parametrize("role", ["staff", "admins", "support", "superuser"])
@pytest.mark.parametrize("page", [change_url, setup_url])
def test_whoever_sees_a_site_sees_its_timeline_without_a_secret(client_for, site, role, page):
    body = client_for(role).get(page(site)).content.decode()
    assert 'id="audit-trail"' in body
    assert "Site created" in body and "Xero API Secret: set" in body
    assert CONSUMER_SECRET not in body and "gAAAAA" not in body


def test_the_timeline_is_newest_first_filtered_by_kind_and_paged(client_for, site):
    for number in range(TIMELINE_PAGE_SIZE + 3):
        audit.record(kind=Kind.CONNECTION_TEST, site=site, summary=f"test number {number}")
    client = client_for("staff")
    first = client.get(setup_url(site), {"audit_kind": "connection_test"}).content.decode()
    newest = f"test number {TIMELINE_PAGE_SIZE + 2}"
    assert newest in first and "test number 0<" not in first
    assert "Site created" not in first.split("<tbody>")[1].split("</tbody>")[0]
    assert "audit_page=2" in first
    second = client.get(
        setup_url(site), {"audit_kind": "connection_test", "audit_page": 2}
    ).content.decode()
    assert "test number 0<" in second and newest not in second


def test_a_bad_kind_or_page_shows_everything_rather_than_failing(client_for, site):
    response = client_for("staff").get(change_url(site), {"audit_kind": "<x>", "audit_page": "z"})
    assert response.status_code == 200
    assert "Site created" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [("superuser", 200), ("admins", 200), ("support", 200), ("staff", 403), ("nobody", 403)],
)
def test_who_may_open_the_global_log(client_for, site, role, status):
    assert client_for(role).get(LOG).status_code == status


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(LOG)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_global_log_filters_by_site_user_kind_and_dates(client_for, site, make_site, make_user):
    other = make_site(name="Other Co", code="other")
    client = client_for("support")
    body = client.get(LOG, {"site": "acme"}).content.decode()
    assert "Acme Pty Ltd" in body and "Other Co" not in body
    body = client.get(LOG, {"kind": "site_created", "site": "other"}).content.decode()
    assert "Other Co" in body and "Acme Pty Ltd" not in body
    tester = make_user(SUPPORT, username="support-tester")
    audit.record(kind=Kind.CONNECTION_TEST, site=other, actor=tester)
    body = client.get(LOG, {"user": "support-tester"}).content.decode()
    assert "Other Co" in body and "Acme Pty Ltd" not in body
    long_ago = client.get(LOG, {"since": "2001-01-01", "until": "2001-01-02"})
    assert "No row matches" in long_ago.content.decode()
    assert "Acme Pty Ltd" in client.get(LOG, {"since": "2001-01-01"}).content.decode()


def test_hostile_filters_get_messages_not_errors(client_for, site):
    client = client_for("admins")
    response = client.get(LOG, {"since": "2026-13-45", "kind": "drop table", "site": "x" * 5000})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid date" in body and "Select a valid choice" in body
    reversed_dates = client.get(LOG, {"since": "2026-02-01", "until": "2026-01-01"})
    assert "swap them" in reversed_dates.content.decode()
    csv_refused = client.get(LOG, {"since": "nope", "export": "csv"})
    assert csv_refused["Content-Type"].startswith("text/html")


def test_csv_export_has_the_filtered_rows_and_defuses_formulas(client_for, site, make_site):
    make_site(name='=HYPERLINK("http://evil")', code="evil")
    audit.record(kind=Kind.LOGIN_FAILED, summary="+cmd|' /C calc'!A0")
    response = client_for("support").get(LOG, {"export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["When (UTC)", "Kind", "Site code"]
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("http://evil")' in cells
    assert "'+cmd|' /C calc'!A0" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert CONSUMER_SECRET not in response.content.decode()

    only_acme = client_for("support").get(LOG, {"export": "csv", "site": "acme"})
    codes = {row[2] for row in csv.reader(io.StringIO(only_acme.content.decode()))}
    assert codes == {"Site code", "acme"}
