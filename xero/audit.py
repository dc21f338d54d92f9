"""The Xero app's events in the audit trail (``sites/audit.py`` writes the rows).

Certificate events are recorded from ``CertificateEvent`` rows as they are made, and a
certificate's deletion from its ``pre_delete`` signal, so every path that issues,
downloads, activates, retires or deletes a certificate is recorded, with no call to
forget in the services.
"""

from django.db.models.signals import post_save, pre_delete

from sites import audit
from sites.models import AuditEntry

from .models import Certificate, CertificateEvent, QueuedCheck

Kind = AuditEntry.Kind

CERTIFICATE_KINDS: dict[str, str] = {
    CertificateEvent.Action.ISSUED: Kind.CERTIFICATE_ISSUED,
    CertificateEvent.Action.DOWNLOADED: Kind.CERTIFICATE_DOWNLOADED,
    CertificateEvent.Action.ACTIVATED: Kind.CERTIFICATE_ACTIVATED,
    CertificateEvent.Action.RETIRED: Kind.CERTIFICATE_RETIRED,
    CertificateEvent.Action.PENDING_AGAIN: Kind.CERTIFICATE_PENDING_AGAIN,
}


def _describe(certificate: Certificate) -> str:
    return (
        f"Certificate serial {certificate.serial_number}, SHA-1 {certificate.fingerprint_sha1}, "
        f"{certificate.key_size}-bit, valid until {certificate.not_valid_after:%Y-%m-%d}"
    )


def _on_certificate_event(sender, instance: CertificateEvent, created, raw=False, **kwargs):
    if not created or raw:
        return
    certificate = instance.certificate
    note = f" ({instance.note})" if instance.note else ""
    changes = None
    if instance.action == CertificateEvent.Action.ISSUED:
        # The private key is made with the certificate: recorded as set, never shown.
        changes = {"private_key": ["", audit.SECRET]}
    audit.record(
        kind=CERTIFICATE_KINDS[instance.action],
        site=certificate.site,
        target=certificate,
        actor=instance.user,
        summary=f"{_describe(certificate)}{note}.",
        changes=changes,
        at=instance.at,
    )


def _on_certificate_deleted(sender, instance: Certificate, **kwargs):
    audit.record(
        kind=Kind.CERTIFICATE_DELETED,
        site=instance.site,
        target=instance,
        summary=f"{_describe(instance)}, {instance.state}; its private key deleted with it.",
        changes={"private_key": [audit.SECRET, ""]},
    )


def record_connection_test(*, test) -> None:
    """A connection test run by hand (the button or ``xero_test_connection``)."""
    audit.record(
        kind=Kind.CONNECTION_TEST,
        site=test.site,
        target=test,
        actor=test.run_by,
        summary=connection_test_summary(test),
    )


def connection_test_summary(test) -> str:
    """A test's line in the trail: its outcome, and the organisation it reached or Xero's
    HTTP status. The row names who, when and which Site; the whole message (a certificate's
    fingerprints, the steps that fix it) stays on the test's own row in the Site's history."""
    if test.passed and test.organisation_name:
        return f"{test.outcome_label}: connected to {test.organisation_name}."
    status = f" (HTTP {test.http_status})" if test.http_status else ""
    return f"{test.outcome_label}{status}."


def record_connected(*, site, binding, user=None) -> None:
    """A Site bound to a Xero organisation through a Xero user's consent (Connect to Xero).
    The tokens are not named: the row says whose consent it is."""
    consent = binding.token_set.xero_user_email or binding.token_set.xero_user_id
    audit.record(
        kind=Kind.XERO_CONNECTED,
        site=site,
        actor=user,
        summary=(
            f"Connected to {binding.tenant_name or 'an organisation'} (tenant "
            f"{binding.tenant_id}) with the consent of Xero user {consent}."
        ),
    )


def record_disconnected(*, site, binding, revoked: bool, shared: bool) -> None:
    """A Site's Xero connection removed (Disconnect from Xero), and what became of the
    consent: revoked, kept for the other Sites using it, or not confirmed by Xero."""
    if revoked:
        consent = "The consent was revoked in Xero."
    elif shared:
        consent = "The consent stays: other Sites use it."
    else:
        consent = "Xero did not confirm removing the consent."
    audit.record(
        kind=Kind.XERO_DISCONNECTED,
        site=site,
        summary=(
            f"Disconnected from {binding.tenant_name or 'an organisation'} (tenant "
            f"{binding.tenant_id}). {consent}"
        ),
    )


def sites_in_chunks(*, chunks) -> list[int]:
    """The Sites queued in ``chunks`` (read before their tasks are enqueued and may run)."""
    return list(
        QueuedCheck.objects.filter(chunk__in=list(chunks)).values_list("site_id", flat=True)
    )


def record_fleet_checks_queued(*, site_ids, user=None) -> int:
    """One row per Site whose background check was just queued (its task enqueued)."""
    return audit.record_for_sites(
        kind=Kind.FLEET_CHECK_QUEUED,
        site_ids=site_ids,
        actor=user,
        summary="Background connection test queued.",
    )


def connect_receivers() -> None:
    post_save.connect(
        _on_certificate_event, sender=CertificateEvent, dispatch_uid="audit_certificate_event"
    )
    pre_delete.connect(
        _on_certificate_deleted, sender=Certificate, dispatch_uid="audit_certificate_deleted"
    )
