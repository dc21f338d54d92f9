"""Writes of the Xero app: issue and promote certificates, run connection tests."""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sites.models import Site

from . import certificates
from .exceptions import CertificateKeySizeInvalid, CertificateNotPending, CertificateValidityInvalid
from .models import Certificate, CertificateEvent


def certificate_issue(
    *,
    site: Site,
    issued_by=None,
    key_size: int | None = None,
    days: int | None = None,
    now: datetime.datetime | None = None,
) -> Certificate:
    """Issue a new certificate for ``site``.

    A Site's first certificate becomes active; later ones wait as pending, with the
    current one still active, until a connection test passes with them (or an Admin
    promotes them). A newer pending certificate retires the older pending one.
    """
    key_size = settings.XERO_CERTIFICATE_KEY_SIZE if key_size is None else key_size
    days = settings.XERO_CERTIFICATE_DAYS if days is None else days
    if key_size not in certificates.KEY_SIZES:
        raise CertificateKeySizeInvalid()
    if not 1 <= days <= certificates.MAX_VALIDITY_DAYS:
        raise CertificateValidityInvalid(max_days=certificates.MAX_VALIDITY_DAYS)
    now = now or timezone.now()

    issued = certificates.generate_certificate(
        site_name=site.name, site_code=site.code, key_size=key_size, days=days, now=now
    )
    loaded = certificates.load_certificate(issued.certificate_pem)
    certificate = Certificate(
        site=site,
        certificate_pem=issued.certificate_pem,
        private_key_pem=issued.private_key_pem,
        serial_number=f"{loaded.serial_number:X}",
        key_size=key_size,
        fingerprint_sha1=certificates.fingerprint(issued.certificate_pem, "sha1"),
        fingerprint_sha256=certificates.fingerprint(issued.certificate_pem, "sha256"),
        not_valid_before=loaded.not_valid_before_utc,
        not_valid_after=loaded.not_valid_after_utc,
        issued_at=now,
        issued_by=issued_by,
    )
    with transaction.atomic():
        # Lock the Site so that two issues at once take turns (PostgreSQL); the
        # one-active constraint settles it on databases without row locks.
        Site.objects.select_for_update().filter(pk=site.pk).first()
        if not Certificate.objects.filter(site=site).active().exists():
            certificate.state = Certificate.State.ACTIVE
            certificate.activated_at = now
            try:
                with transaction.atomic():
                    certificate.save()
            except IntegrityError:
                certificate.pk = None
                certificate.activated_at = None
        if certificate.pk is None:
            _retire(Certificate.objects.filter(site=site).pending(), now=now, note="replaced")
            certificate.state = Certificate.State.PENDING
            certificate.save()
        CertificateEvent.objects.create(
            certificate=certificate, action=CertificateEvent.Action.ISSUED, user=issued_by, at=now
        )
        if certificate.state == Certificate.State.ACTIVE:
            CertificateEvent.objects.create(
                certificate=certificate,
                action=CertificateEvent.Action.ACTIVATED,
                user=issued_by,
                at=now,
                note="first certificate of the Site",
            )
    return certificate


def _retire(queryset, *, now, user=None, note=""):
    for old in queryset.select_for_update():
        old.state = Certificate.State.RETIRED
        old.retired_at = now
        old.save(update_fields=["state", "retired_at"])
        CertificateEvent.objects.create(
            certificate=old, action=CertificateEvent.Action.RETIRED, user=user, at=now, note=note
        )


def certificate_activate(
    *, certificate: Certificate, user=None, note: str = "", now: datetime.datetime | None = None
) -> Certificate:
    """Make a pending certificate the Site's active one and retire the one it replaces."""
    now = now or timezone.now()
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if certificate.state != Certificate.State.PENDING:
            raise CertificateNotPending(state=certificate.get_state_display().lower())
        _retire(
            Certificate.objects.filter(site_id=certificate.site_id).active(),
            now=now,
            user=user,
            note="replaced by a newer certificate",
        )
        certificate.state = Certificate.State.ACTIVE
        certificate.activated_at = now
        certificate.save(update_fields=["state", "activated_at"])
        CertificateEvent.objects.create(
            certificate=certificate,
            action=CertificateEvent.Action.ACTIVATED,
            user=user,
            at=now,
            note=note,
        )
    return certificate


def certificate_record_download(*, certificate: Certificate, user) -> None:
    CertificateEvent.objects.create(
        certificate=certificate, action=CertificateEvent.Action.DOWNLOADED, user=user
    )
