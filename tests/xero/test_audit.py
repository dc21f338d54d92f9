"""The Xero events in the audit trail (xero/audit.py): certificates, connection tests run
by hand, queued background checks; one row each, with who and from where."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from sites.models import AuditEntry
from tests.conftest import assert_secret_not_recorded, audit_rows_text
from xero.models import Certificate, ConnectionTest
from xero.services import connection_test_run

Kind = AuditEntry.Kind


def kinds(site) -> list[str]:
    return list(
        AuditEntry.objects.filter(site_pk=site.pk)
        .order_by("timestamp", "pk")
        .values_list("kind", flat=True)
    )


def test_issuing_the_first_certificate_records_issue_and_activation(client_for, site):
    client_for("admins").post(
        reverse("xero:certificate_issue", args=[site.code]), {"key_size": "2048", "days": "1825"}
    )
    certificate = Certificate.objects.get(site=site)
    issued = AuditEntry.objects.get(site_pk=site.pk, kind=Kind.CERTIFICATE_ISSUED)
    assert issued.actor_username.startswith("admins-") and issued.remote_addr == "127.0.0.1"
    assert certificate.fingerprint_sha1 in issued.summary
    assert certificate.serial_number in issued.summary
    assert [line["text"] for line in issued.change_lines()] == ["Private key: set"]
    assert AuditEntry.objects.filter(site_pk=site.pk, kind=Kind.CERTIFICATE_ACTIVATED).count() == 1
    key_body = "".join(certificate.private_key_pem.splitlines()[1:-1])
    assert_secret_not_recorded(*certificate.private_key_pem.splitlines()[1:-1], key_body[:64])


def test_download_promotion_and_retirement_are_each_one_row(client_for, site, issue_certificate):
    first = issue_certificate(site)
    second = issue_certificate(site)
    client = client_for("admins")
    client.get(reverse("xero:certificate_download", args=[site.code, first.pk]))
    client.post(reverse("xero:certificate_activate", args=[site.code, second.pk]))
    assert AuditEntry.objects.filter(site_pk=site.pk, kind=Kind.CERTIFICATE_DOWNLOADED).count() == 1
    retired = AuditEntry.objects.get(
        site_pk=site.pk, kind=Kind.CERTIFICATE_RETIRED, object_pk=first.pk
    )
    assert retired.actor_username.startswith("admins-")
    activated = AuditEntry.objects.filter(
        site_pk=site.pk, kind=Kind.CERTIFICATE_ACTIVATED, object_pk=second.pk
    ).get()
    assert "promoted by hand" in activated.summary


def test_a_connection_test_run_by_hand_is_one_row_with_its_outcome(client_for, private_site):
    client_for("support").post(reverse("xero:connection_test", args=[private_site.code]))
    entry = AuditEntry.objects.get(site_pk=private_site.pk, kind=Kind.CONNECTION_TEST)
    assert entry.summary == "Passed: connected to Demo Company (AU)."
    assert entry.actor_username.startswith("support-") and entry.remote_addr == "127.0.0.1"
    assert entry.site_code == private_site.code
    assert entry.object_pk == str(ConnectionTest.objects.get().pk)


def test_a_signature_invalid_test_is_in_the_trail_as_its_outcome_not_its_fingerprints(
    client_for, site, issue_certificate, make_site, fake_xero_settings
):
    ours = issue_certificate(site)
    fake_xero_settings.register_private_app(
        site.api_key, issue_certificate(make_site()).certificate_pem
    )

    client_for("support").post(reverse("xero:connection_test", args=[site.code]))

    test = ConnectionTest.objects.get(site=site)
    assert test.outcome == "signature_invalid" and ours.fingerprint_sha256 in test.message
    entry = AuditEntry.objects.get(site_pk=site.pk, kind=Kind.CONNECTION_TEST)
    assert entry.summary == "Signature invalid (HTTP 401)."
    assert entry.actor_username.startswith("support-")
    assert entry.object_pk == str(test.pk)


@pytest.mark.parametrize(
    ("kind", "options", "summary"),
    [
        ("forbidden", {}, "Access refused (HTTP 403)."),
        ("rate_limit_minute", {"retry_after": 42}, "Rate limited (HTTP 429)."),
        ("unavailable", {}, "Xero unavailable (HTTP 503)."),
        ("drop", {}, "Xero unreachable."),
        ("html_body", {}, "Unexpected answer (HTTP 200)."),
    ],
)
def test_every_outcome_is_in_the_trail_as_its_label_and_no_more_than_its_status(
    client_for, private_site, fake_xero_settings, kind, options, summary
):
    fake_xero_settings.fail_next(kind, **options)

    client_for("support").post(reverse("xero:connection_test", args=[private_site.code]))

    test = ConnectionTest.objects.get(site=private_site)
    entry = AuditEntry.objects.get(site_pk=private_site.pk, kind=Kind.CONNECTION_TEST)
    assert entry.summary == summary
    assert entry.summary.startswith(test.outcome_label)
    assert test.message not in entry.summary


def test_the_test_command_is_recorded_as_its_origin(private_site):
    call_command("xero_test_connection", private_site.code, stdout=open("/dev/null", "w"))  # noqa: SIM115
    entry = AuditEntry.objects.get(site_pk=private_site.pk, kind=Kind.CONNECTION_TEST)
    assert entry.via == "manage.py xero_test_connection" and entry.actor is None


def test_queued_background_checks_are_one_row_per_site_and_their_run_adds_none(
    client_for, private_site, make_site, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    other = make_site()
    client_for("support").post(
        "/xero/health/", {"action": "test_selected", "sites": [private_site.pk, other.pk]}
    )
    queued = AuditEntry.objects.filter(kind=Kind.FLEET_CHECK_QUEUED)
    assert sorted(queued.values_list("site_pk", flat=True)) == sorted([private_site.pk, other.pk])
    assert all(e.actor_username.startswith("support-") for e in queued)
    # The worker's run (the service, without a person) is no test "by hand".
    assert connection_test_run(site=private_site).passed
    assert not AuditEntry.objects.filter(kind=Kind.CONNECTION_TEST).exists()


@pytest.mark.parametrize("secret", ["custom-connection-secret-for-tests"])
def test_a_custom_connection_test_records_no_token_or_secret(client_for, custom_site, secret):
    client_for("admins").post(reverse("xero:connection_test", args=[custom_site.code]))
    assert AuditEntry.objects.filter(site_pk=custom_site.pk, kind=Kind.CONNECTION_TEST).exists()
    token = custom_site.xero_access_token.access_token
    assert_secret_not_recorded(secret, token)
    assert token not in audit_rows_text()


def test_the_cron_command_queues_with_itself_as_the_origin(site, make_site, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    make_site()
    call_command("xero_check_fleet", stdout=open("/dev/null", "w"))  # noqa: SIM115
    queued = AuditEntry.objects.filter(kind=Kind.FLEET_CHECK_QUEUED)
    assert queued.count() == 2
    assert {entry.via for entry in queued} == {"manage.py xero_check_fleet"}
