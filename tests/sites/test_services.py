"""Deleting a Site (sites/services.py site_delete and the admin's delete page): everything
it owns goes, nothing of its secrets stays readable in the files, its audit rows stay."""

import datetime

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from sites.models import AuditEntry, Site
from sites.services import site_delete
from tests.conftest import (
    CONSUMER_SECRET,
    assert_secret_not_recorded,
    database_files_bytes,
)
from xero.models import AccessToken, Certificate, CertificateEvent, ConnectionTest

Kind = AuditEntry.Kind


def test_admins_delete_a_site_with_certificates_by_typing_its_code(
    client_for, site, issue_certificate
):
    issue_certificate(site)
    issue_certificate(site)
    ConnectionTest.objects.create(site=site, outcome="ok")
    client = client_for("admins")
    url = reverse("admin:sites_site_delete", args=[site.pk])
    page = client.get(url).content.decode()
    assert "type the Site's code" in page and "Kept:" in page

    wrong = client.post(url, {"post": "yes", "confirm_code": "ACME"}, follow=True)
    assert "type its code exactly" in wrong.content.decode()
    assert Site.objects.filter(pk=site.pk).exists()

    client.post(url, {"post": "yes", "confirm_code": "acme"})
    assert not Site.objects.filter(pk=site.pk).exists()
    assert not Certificate.objects.filter(site_id=site.pk).exists()
    assert not CertificateEvent.objects.filter(certificate__site_id=site.pk).exists()
    assert not ConnectionTest.objects.filter(site_id=site.pk).exists()

    deleted = AuditEntry.objects.get(site_pk=site.pk, kind=Kind.SITE_DELETED)
    assert (deleted.site_code, deleted.site_name) == ("acme", "Acme Pty Ltd")
    assert deleted.actor_username.startswith("admins-") and deleted.remote_addr == "127.0.0.1"
    assert "2 certificates" in deleted.summary and "1 connection test" in deleted.summary
    assert "Xero API Secret: cleared" in [line["text"] for line in deleted.change_lines()]
    assert AuditEntry.objects.filter(site_pk=site.pk, kind=Kind.CERTIFICATE_DELETED).count() == 2
    # The earlier history is kept, still naming the Site.
    assert AuditEntry.objects.filter(site_code="acme", kind=Kind.SITE_CREATED).exists()
    assert_secret_not_recorded(CONSUMER_SECRET)


def test_the_delete_page_offers_no_bulk_delete(client_for, site):
    page = client_for("admins").get(reverse("admin:sites_site_changelist")).content.decode()
    assert "delete_selected" not in page


def test_deleting_takes_the_access_token_too(site):
    AccessToken.objects.create(
        site=site,
        access_token="token-for-tests-abc",
        expires_at=timezone.now() + datetime.timedelta(minutes=30),
        credentials_digest="x",
    )
    counts = site_delete(site=site)
    assert counts["access tokens"] == 1
    assert not AccessToken.objects.exists()
    assert_secret_not_recorded("token-for-tests-abc")


@pytest.mark.django_db(transaction=True)
def test_no_ciphertext_of_a_deleted_site_stays_in_the_sqlite_files(make_site):
    if connection.vendor != "sqlite":
        pytest.skip("reads the SQLite files (PostgreSQL: see docs/security.md, Deleting a Site)")
    from xero.services import certificate_issue

    site = make_site(code="shred-me", api_secret=CONSUMER_SECRET)
    certificate_issue(site=site)
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_secret FROM sites_site WHERE id = %s", [site.pk])
        secret_token = cursor.fetchone()[0]
        cursor.execute("SELECT private_key_pem FROM xero_certificate WHERE site_id = %s", [site.pk])
        key_token = cursor.fetchone()[0]

    site_delete(site=site)
    data = database_files_bytes()
    # Only the ciphertext was ever stored; after the deletion not even that remains.
    assert secret_token.encode() not in data
    assert key_token.encode() not in data
    assert key_token[:40].encode() not in data
    assert b"shred-me" in data  # the audit rows still name the Site
