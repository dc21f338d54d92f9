import datetime
import threading

import pytest
from django.db import IntegrityError, close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import sqlite_files_bytes
from xero.exceptions import (
    CertificateKeySizeInvalid,
    CertificateNotPending,
    CertificateNotReactivatable,
    CertificateValidityInvalid,
)
from xero.models import Certificate, CertificateEvent
from xero.services import certificate_activate, certificate_issue, certificate_reactivate

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def states(site):
    return list(site.certificates.order_by("issued_at", "pk").values_list("state", flat=True))


def test_a_sites_first_certificate_is_active_at_once(site, make_user):
    admin = make_user("Admins")
    certificate = certificate_issue(site=site, issued_by=admin, now=NOW)
    assert certificate.state == Certificate.State.ACTIVE
    assert certificate.activated_at == NOW
    assert certificate.key_size == 2048
    assert certificate.not_valid_after - certificate.not_valid_before == datetime.timedelta(
        days=1825
    )
    actions = set(certificate.events.values_list("action", "user"))
    assert actions == {("issued", admin.pk), ("activated", admin.pk)}


def test_issuing_again_adds_a_pending_certificate_and_keeps_the_active_one(site):
    first = certificate_issue(site=site, now=NOW)
    second = certificate_issue(site=site, now=NOW + datetime.timedelta(days=1))
    first.refresh_from_db()
    assert first.state == Certificate.State.ACTIVE
    assert second.state == Certificate.State.PENDING
    # The pending one first: it signs first and is the one to paste.
    assert list(site.certificates.current()) == [second, first]
    assert site.certificates.to_paste() == second


def test_a_third_issue_retires_the_older_pending_one_not_the_active_one(site):
    certificate_issue(site=site, now=NOW)
    certificate_issue(site=site, now=NOW + datetime.timedelta(seconds=1))
    third = certificate_issue(site=site, now=NOW + datetime.timedelta(seconds=2))
    assert states(site) == ["active", "retired", "pending"]
    assert third.state == Certificate.State.PENDING


def test_promoting_the_pending_certificate_retires_the_old_one_and_keeps_it(site, make_user):
    admin = make_user("Admins")
    first = certificate_issue(site=site, now=NOW)
    second = certificate_issue(site=site, now=NOW)
    certificate_activate(certificate=second, user=admin, now=NOW + datetime.timedelta(hours=1))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("retired", "active")
    assert first.retired_at == NOW + datetime.timedelta(hours=1)
    assert Certificate.objects.filter(pk=first.pk).exists()
    assert first.events.filter(action="retired").count() == 1
    assert second.events.filter(action="activated", user=admin).count() == 1


def test_only_a_pending_certificate_can_be_promoted(site):
    active = certificate_issue(site=site, now=NOW)
    with pytest.raises(CertificateNotPending) as error:
        certificate_activate(certificate=active)
    assert error.value.message.endswith("this one is active.")


def test_the_database_refuses_a_second_active_certificate(site):
    first = certificate_issue(site=site, now=NOW)
    second = certificate_issue(site=site, now=NOW)
    with pytest.raises(IntegrityError):
        Certificate.objects.filter(pk=second.pk).update(state="active")
    assert first.pk


@pytest.mark.parametrize(
    ("options", "error"),
    [({"key_size": 1024}, CertificateKeySizeInvalid), ({"days": 4000}, CertificateValidityInvalid)],
)
def test_bad_options_are_refused_with_a_message_and_nothing_is_stored(site, options, error):
    with pytest.raises(error) as raised:
        certificate_issue(site=site, **options)
    assert raised.value.message[0].isupper()
    assert not Certificate.objects.exists()


def test_settings_choose_the_default_size_and_validity(site, settings):
    settings.XERO_CERTIFICATE_KEY_SIZE = 4096
    settings.XERO_CERTIFICATE_DAYS = 30
    certificate = certificate_issue(site=site, now=NOW)
    assert certificate.key_size == 4096
    assert certificate.not_valid_after == NOW + datetime.timedelta(days=30)


def test_private_key_is_stored_encrypted_and_reads_back(site):
    certificate = certificate_issue(site=site)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT private_key_pem FROM {Certificate._meta.db_table} WHERE id = %s",
            [certificate.pk],
        )
        stored = cursor.fetchone()[0]
    assert "PRIVATE KEY" not in stored
    assert stored.startswith("gAAAA")
    reloaded = Certificate.objects.get(pk=certificate.pk)
    assert reloaded.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_issue_records_nothing_when_the_database_write_fails(site, monkeypatch):
    def broken_create(*args, **kwargs):
        raise IntegrityError("boom")

    monkeypatch.setattr(CertificateEvent.objects, "create", broken_create)
    with pytest.raises(IntegrityError):
        certificate_issue(site=site)
    assert not Certificate.objects.exists()


def test_issue_takes_a_fixed_number_of_queries(site):
    certificate_issue(site=site)
    with CaptureQueriesContext(connection) as queries:
        certificate_issue(site=site)
    # 11: the audit row's insert reads the chain's last hash first (sites/audit_chain.py);
    # PostgreSQL takes the chain's advisory lock for it too.
    assert len(queries) <= (11 if connection.vendor == "sqlite" else 12)


@pytest.mark.django_db(transaction=True)
def test_two_issues_at_the_same_moment_cannot_make_two_active_certificates(make_site):
    site = make_site()
    barrier = threading.Barrier(4)
    errors = []

    def issue():
        try:
            barrier.wait()
            certificate_issue(site=site, now=NOW)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Certificate.objects.filter(site=site, state="active").count() == 1
    assert Certificate.objects.filter(site=site, state="pending").count() == 1
    assert Certificate.objects.filter(site=site).count() == 4


@pytest.mark.django_db(transaction=True)
def test_private_key_plaintext_is_nowhere_in_the_sqlite_database_files(make_site):
    from pathlib import Path

    if connection.vendor != "sqlite":
        pytest.skip("reads the SQLite files; PostgreSQL is covered by the raw column test")
    connection.ensure_connection()
    path = Path(connection.settings_dict["NAME"])
    certificate = certificate_issue(site=make_site())
    key_lines = certificate.private_key_pem.splitlines()[1:-1]
    connection.close()
    data = sqlite_files_bytes(path)
    assert certificate.fingerprint_sha256.encode() in data  # the row is in these files
    for line in key_lines:
        assert line.encode() not in data


def test_a_just_retired_certificate_is_made_active_again_and_the_newer_one_waits_again(site):
    old = certificate_issue(site=site)
    new = certificate_activate(certificate=certificate_issue(site=site))
    certificate_reactivate(certificate=old)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == (Certificate.State.ACTIVE, Certificate.State.PENDING)
    assert CertificateEvent.objects.filter(
        certificate=new, action=CertificateEvent.Action.PENDING_AGAIN
    ).exists()


def test_with_another_pending_certificate_the_newer_one_is_retired_instead(site):
    old = certificate_issue(site=site)
    new = certificate_activate(certificate=certificate_issue(site=site))
    third = certificate_issue(site=site)
    certificate_reactivate(certificate=old)
    new.refresh_from_db()
    third.refresh_from_db()
    assert (new.state, third.state) == (Certificate.State.RETIRED, Certificate.State.PENDING)


def test_a_certificate_retired_too_long_ago_or_never_active_is_not_made_active_again(
    site, settings
):
    old = certificate_issue(site=site)
    certificate_activate(certificate=certificate_issue(site=site))
    later = timezone.now() + datetime.timedelta(hours=settings.XERO_CERTIFICATE_REACTIVATION_HOURS)
    with pytest.raises(CertificateNotReactivatable):
        certificate_reactivate(certificate=old, now=later)
    replaced_pending = certificate_issue(site=site)
    certificate_issue(site=site)  # retires the pending one, which was never active
    with pytest.raises(CertificateNotReactivatable):
        certificate_reactivate(certificate=replaced_pending)
