import logging

import pytest
from django.urls import reverse

from xero.models import Certificate, CertificateEvent


def issue_url(site):
    return reverse("xero:certificate_issue", args=[site.code])


def download_url(certificate):
    return reverse("xero:certificate_download", args=[certificate.site.code, certificate.pk])


def activate_url(certificate):
    return reverse("xero:certificate_activate", args=[certificate.site.code, certificate.pk])


ISSUE = {"key_size": "2048", "days": "1825"}
# The permission matrix of the README: only Admins and superusers issue and download.
MATRIX = [("superuser", True), ("admins", True), ("staff", False), ("support", False),
          ("nobody", False)]  # fmt: skip


@pytest.mark.parametrize(("role", "allowed"), MATRIX)
def test_who_may_issue_a_certificate(client_for, site, role, allowed):
    response = client_for(role).post(issue_url(site), ISSUE)
    assert response.status_code == (302 if allowed else 403)
    assert Certificate.objects.filter(site=site).exists() == allowed


@pytest.mark.parametrize(("role", "allowed"), MATRIX)
def test_who_may_download_the_public_certificate(
    client_for, site, issue_certificate, role, allowed
):
    certificate = issue_certificate(site)
    response = client_for(role).get(download_url(certificate))
    assert response.status_code == (200 if allowed else 403)
    assert CertificateEvent.objects.filter(action="downloaded").exists() == allowed


@pytest.mark.parametrize(("role", "allowed"), MATRIX)
def test_who_may_promote_a_pending_certificate(client_for, site, issue_certificate, role, allowed):
    issue_certificate(site)
    pending = issue_certificate(site)
    client_for(role).post(activate_url(pending))
    pending.refresh_from_db()
    assert (pending.state == "active") == allowed


def test_anonymous_users_are_sent_to_log_in(client, site):
    response = client.post(issue_url(site), ISSUE)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_download_is_a_pem_attachment_named_after_the_site(client_for, site, issue_certificate):
    certificate = issue_certificate(site)
    response = client_for("admins").get(download_url(certificate))
    assert response["Content-Type"] == "application/pkix-cert"
    assert response["Content-Disposition"] == 'attachment; filename="acme-publickey.cer"'
    assert response.content.decode() == certificate.certificate_pem
    assert b"PRIVATE KEY" not in response.content


def test_each_download_is_recorded_with_who_and_which_certificate(
    client, site, issue_certificate, make_user
):
    certificate = issue_certificate(site)
    admin = make_user("Admins")
    client.force_login(admin)
    client.get(download_url(certificate))
    client.get(download_url(certificate))
    events = CertificateEvent.objects.filter(certificate=certificate, action="downloaded")
    assert [event.user for event in events] == [admin, admin]


def test_issue_is_a_post_only(client_for, site):
    assert client_for("admins").get(issue_url(site)).status_code == 405


def test_issue_without_csrf_token_is_refused(site, make_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("Admins"))
    assert client.post(issue_url(site), ISSUE).status_code == 403
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"key_size": "1024", "days": "30"}, "Choose a key size of 2048 or 4096 bits."),
        ({"key_size": "2048", "days": "0"}, "A certificate must be valid for at least 1 day."),
        ({"key_size": "2048", "days": "9999"}, "at most 3650 days"),
        ({"key_size": "2048", "days": "five"}, "whole number"),
    ],
)
def test_bad_issue_input_gives_a_clear_message_and_keeps_the_current_certificate(
    client_for, site, issue_certificate, data, message
):
    current = issue_certificate(site)
    response = client_for("admins").post(issue_url(site), data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert list(site.certificates.all()) == [current]


def test_issue_returns_to_the_page_it_came_from_but_never_off_site(client_for, site):
    client = client_for("admins")
    response = client.post(issue_url(site), {**ISSUE, "next": "/admin/"})
    assert response["Location"] == "/admin/"
    response = client.post(issue_url(site), {**ISSUE, "next": "https://evil.example/"})
    assert response["Location"] == reverse("admin:sites_site_change", args=[site.pk])


def test_unknown_site_or_certificate_is_a_404_not_a_500(client_for, site, issue_certificate):
    client = client_for("admins")
    assert client.post(reverse("xero:certificate_issue", args=["nope"]), ISSUE).status_code == 404
    certificate = issue_certificate(site)
    other = reverse("xero:certificate_download", args=["nope", certificate.pk])
    assert client.get(other).status_code == 404


def test_promoting_an_active_certificate_says_why_not(client_for, site, issue_certificate):
    active = issue_certificate(site)
    response = client_for("admins").post(activate_url(active), follow=True)
    assert "Only a pending certificate can be made active" in response.content.decode()


def test_private_key_is_never_in_a_page_a_download_or_a_log(
    client_for, site, issue_certificate, caplog
):
    caplog.set_level(logging.DEBUG)
    client = client_for("superuser")
    client.post(issue_url(site), ISSUE)
    certificate = Certificate.objects.get(site=site)
    key_body = certificate.private_key_pem.splitlines()[5]
    pages = [
        client.get(reverse("admin:sites_site_change", args=[site.pk])),
        client.get(reverse("admin:sites_site_changelist")),
        client.get(download_url(certificate)),
        client.get(reverse("admin:index")),
    ]
    for page in pages:
        assert page.status_code == 200
        assert key_body.encode() not in page.content
        assert b"PRIVATE KEY" not in page.content
    assert key_body not in caplog.text
