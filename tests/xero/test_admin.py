import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from xero.models import Certificate

CHANGELIST = reverse("admin:sites_site_changelist")


def change_url(site):
    return reverse("admin:sites_site_change", args=[site.pk])


def test_site_page_shows_the_pem_fingerprints_and_copy_button_to_admins(
    client_for, site, issue_certificate
):
    certificate = issue_certificate(site)
    page = client_for("admins").get(change_url(site)).content.decode()
    assert certificate.certificate_pem.strip() in page
    assert certificate.fingerprint_sha1 in page and certificate.fingerprint_sha256 in page
    assert certificate.serial_number in page
    assert "2048 bits" in page
    assert 'data-copy-target="certificate-pem-' in page
    assert certificate.download_filename in page
    assert "Issue a new certificate" in page


@pytest.mark.parametrize("role", ["staff", "support"])
def test_others_see_the_certificate_facts_but_no_issue_or_download(
    client_for, site, issue_certificate, role
):
    certificate = issue_certificate(site)
    page = client_for(role).get(change_url(site)).content.decode()
    assert certificate.fingerprint_sha1 in page
    assert "BEGIN CERTIFICATE" not in page
    assert reverse("xero:certificate_issue", args=[site.code]) not in page
    assert "publickey.cer" not in page


def test_a_site_without_certificate_tells_others_to_ask_an_admin(client_for, site):
    page = client_for("staff").get(change_url(site)).content.decode()
    assert "no certificate yet" in page and "Ask an Admin" in page


def test_pending_certificate_offers_admins_to_promote_it_by_hand(
    client_for, site, issue_certificate
):
    issue_certificate(site)
    pending = issue_certificate(site)
    page = client_for("admins").get(change_url(site)).content.decode()
    assert reverse("xero:certificate_activate", args=[site.code, pending.pk]) in page


def test_site_list_shows_certificate_state_and_days_to_expiry(
    client_for, site, make_site, issue_certificate
):
    issue_certificate(site, days=400)
    expiring = make_site(name="Soon Ltd")
    issue_certificate(expiring, days=30)
    make_site(name="Bare Ltd")
    page = client_for("staff").get(CHANGELIST).content.decode()
    assert "Active, 399 days left" in page
    assert '<strong class="xero-expiring">⚠ Active, 29 days left</strong>' in page
    assert "None" in page


def test_site_list_queries_do_not_grow_with_certificates(
    client_for, make_site, issue_certificate, django_assert_max_num_queries
):
    client = client_for("staff")
    for _ in range(3):
        issue_certificate(make_site())
    with django_assert_max_num_queries(12):
        client.get(CHANGELIST)
    for _ in range(6):
        site = make_site()
        issue_certificate(site)
        issue_certificate(site)
    with django_assert_max_num_queries(12):
        client.get(CHANGELIST)


def test_site_page_queries_do_not_grow_with_certificates(
    client_for, site, issue_certificate, django_assert_max_num_queries
):
    client = client_for("admins")
    for _ in range(8):
        issue_certificate(site)
    with django_assert_max_num_queries(20):
        assert client.get(change_url(site)).status_code == 200


def test_certificates_have_no_admin_pages_so_the_private_key_has_no_view():
    assert Certificate not in admin.site._registry
    with pytest.raises(NoReverseMatch):
        reverse("admin:xero_certificate_changelist")


def test_site_page_says_private_applications_are_retired_and_points_to_the_switch(
    client_for, site, make_site
):
    page = client_for("staff").get(change_url(site)).content.decode()
    assert "Xero retired private applications on 30 September 2021" in page
    assert reverse("xero:setup", args=[site.code]) in page
    modern = make_site(connection_type="custom_connection")
    # No banner; the connection type's own note still mentions the retirement.
    assert "xero-banner" not in client_for("staff").get(change_url(modern)).content.decode()


def test_the_site_list_does_not_decrypt_secrets(client_for, site, monkeypatch):
    from sites.fields import EncryptedTextField

    def no_decrypt(self, value, *args, **kwargs):
        if value in (None, ""):
            return value
        raise AssertionError("the list decrypted a secret")

    # Signed in first: passing the second factor decrypts the authenticator's key. The
    # session's own data is encrypted too (accounts/sessions.py): only secret fields count.
    client = client_for("staff")
    monkeypatch.setattr(EncryptedTextField, "from_db_value", no_decrypt)
    assert client.get(CHANGELIST).status_code == 200
