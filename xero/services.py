"""Writes of the Xero app: issue and promote certificates, run connection tests."""

import datetime
import logging
import time

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from sites.models import Site
from warehouse import database

from . import certificates, client, values
from .exceptions import (
    CertificateKeySizeInvalid,
    CertificateNotPending,
    CertificateValidityInvalid,
    ConnectionTestCooldown,
    ConnectionTestFailed,
    Forbidden,
    InsufficientScope,
    NoOrganisation,
    SignatureInvalid,
    TokenRejected,
    UnexpectedResponse,
    WarehouseBusy,
    XeroProblem,
)
from .models import Certificate, CertificateEvent, ConnectionTest

logger = logging.getLogger(__name__)


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
        Site.objects.select_for_update().filter(pk=site.pk).values_list("pk").first()
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


def connection_test_run(*, site: Site, user=None, now: datetime.datetime | None = None):
    """Test whether ``site`` can talk to Xero, keep the result as a history row, return it.

    Raises ``ConnectionTestCooldown`` (and records nothing) when the Site was tested in the
    last ``XERO_TEST_COOLDOWN`` seconds. Every other failure is recorded as the row's
    outcome, never raised. A pass with a pending certificate makes it the active one.
    """
    now = now or timezone.now()
    budget = session_budget()
    deadline = time.monotonic() + budget
    # Waits for the database's locks come out of the test's budget too: a lock held
    # elsewhere makes the test warehouse_busy, never a long wait blamed on Xero.
    with database.lock_waits_at_most(budget), client.calls_end_by(deadline):
        try:
            test = _connection_test_claim(site=site, user=user, now=now)
        except OperationalError:
            raise WarehouseBusy(seconds=f"{budget:g}") from None
        return _connection_test_finish(test=test, site=site, user=user, deadline=deadline)


def _connection_test_finish(*, test, site, user, deadline) -> ConnectionTest:
    started = time.monotonic()
    session = None
    try:
        session = client.xero_session(site)
        result = _probe(site, session)
    except ConnectionTestFailed as failure:
        _record_failure(test, failure)
        test.certificate = getattr(session, "certificate", None)
    except OperationalError:
        logger.warning("Connection test of site %s: the database was busy", site.code)
        _record_failure(test, WarehouseBusy(seconds=f"{session_budget():g}"))
    except Exception:
        # A fault of ours: the person pressing the button gets a plain answer, the
        # developers the traceback in the log.
        logger.exception("Connection test of site %s failed unexpectedly", site.code)
        test.outcome = ConnectionTest.INTERNAL_ERROR
        test.message = INTERNAL_ERROR_MESSAGE
    else:
        test.outcome = ConnectionTest.PASSED
        test.certificate = session.certificate
        for field, value in result.items():
            setattr(test, field, value)
    test.latency_ms = round((time.monotonic() - started) * 1000)
    if session is not None and session.last_response is not None:
        last = session.last_response
        test.minute_limit_remaining = client.header_int(last, "X-MinLimit-Remaining")
        test.day_limit_remaining = client.header_int(last, "X-DayLimit-Remaining")
    # The result is saved even when the budget is spent: it may wait a moment more.
    database.set_lock_wait(max(deadline - time.monotonic(), SAVE_GRACE_SECONDS))
    _connection_test_save(test)
    if test.passed:
        _connection_test_passed(site=site, test=test, user=user)
    logger.info(
        "Connection test of site %s: %s (HTTP %s, %s ms)",
        site.code,
        test.outcome,
        test.http_status,
        test.latency_ms,
    )
    return test


# How long saving a test's result may wait for a lock once its budget is spent.
SAVE_GRACE_SECONDS = 1.0


def session_budget() -> float:
    """A test's budget in seconds: the README's promise of how long a test may take."""
    return settings.XERO_CONNECT_TIMEOUT + settings.XERO_READ_TIMEOUT


def _record_failure(test: ConnectionTest, failure: ConnectionTestFailed) -> None:
    test.outcome = failure.code
    test.message = failure.message
    test.step = failure.step or ""
    test.http_status = failure.http_status
    test.problem = failure.problem


INTERNAL_ERROR_MESSAGE = (
    "The test could not run because of a fault in the Warehouse itself. It has been "
    "logged for the developers; nothing is known yet about the Site's settings."
)


def _connection_test_save(test: ConnectionTest) -> None:
    """Save the result; if even that fails, the same row says ``internal_error``.

    A row is never left running: the fault goes to the log with its traceback.
    """
    test.make_safe_to_save()
    try:
        with transaction.atomic():
            test.save()
        return
    except OperationalError:
        logger.warning(
            "Saving the connection test of site %s: the database was busy", test.site.code
        )
        _record_failure(test, WarehouseBusy(seconds=f"{session_budget():g}"))
    except Exception:
        logger.exception("Saving the connection test of site %s failed", test.site.code)
        test.outcome = ConnectionTest.INTERNAL_ERROR
        test.message = INTERNAL_ERROR_MESSAGE
    try:
        ConnectionTest.objects.filter(pk=test.pk).update(
            outcome=test.outcome, message=test.message, latency_ms=test.latency_ms
        )
    except DatabaseError:
        # Still running in the database: it is marked interrupted once its budget and
        # margin have passed (ConnectionTest.objects.stale()).
        logger.exception("Could not record the outcome of site %s's test", test.site.code)


def connection_tests_interrupt_stale(*, site: Site | None = None, now=None) -> int:
    """Mark the rows of tests whose process died as interrupted (all Sites, or ``site``'s).

    Called whenever a Site's tests are started or shown, so no row says running for good.
    """
    stale = ConnectionTest.objects.stale(now=now)
    if site is not None:
        stale = stale.filter(site=site)
    return stale.update(
        outcome=ConnectionTest.INTERRUPTED, message=ConnectionTest.INTERRUPTED_MESSAGE
    )


def _connection_test_claim(*, site, user, now) -> ConnectionTest:
    """Start a history row, unless the Site was tested moments ago (double clicks)."""
    with transaction.atomic():
        Site.objects.select_for_update().filter(pk=site.pk).values_list("pk").first()
        connection_tests_interrupt_stale(site=site, now=now)
        last = (
            ConnectionTest.objects.filter(site=site)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )
        cooldown = datetime.timedelta(seconds=settings.XERO_TEST_COOLDOWN)
        if last is not None and now - last < cooldown:
            seconds = max(0, int((now - last).total_seconds()))
            ago = "just now" if seconds < 1 else f"{seconds} second{'s' * (seconds != 1)} ago"
            raise ConnectionTestCooldown(ago=ago)
        return ConnectionTest.objects.create(
            site=site, run_by=user, started_at=now, connection_type=site.connection_type
        )


def _probe(site: Site, session) -> dict:
    """Make the test's calls; return the history fields of a pass or raise the failure."""
    if site.connection_type == Site.ConnectionType.CUSTOM_CONNECTION:
        connections = session.get_json(settings.XERO_CONNECTIONS_URL)
        if not connections:
            raise NoOrganisation()
        body = session.get_json(_join(settings.XERO_API_URL, "Organisation"))
    else:
        body = _organisation_signed_by_a_current_certificate(site, session)
    try:
        organisation = body["Organisations"][0]
        name = organisation["Name"]
        if not isinstance(organisation, dict):
            raise TypeError(organisation)
    except (KeyError, IndexError, TypeError):
        raise UnexpectedResponse(
            received="an organisation answer without an organisation"
        ) from None
    # Everything Xero says is fitted to its column here (xero.values), before it is used.
    fields = {f.name: f for f in ConnectionTest._meta.concrete_fields}
    result = {
        field: values.for_field(fields[field], organisation.get(key))
        for field, key in (
            ("organisation_name", "Name"),
            ("organisation_short_code", "ShortCode"),
            ("organisation_country", "CountryCode"),
            ("organisation_version", "Version"),
            ("organisation_type", "OrganisationType"),
            ("is_demo_company", "IsDemoCompany"),
        )
    }
    name = result["organisation_name"]
    result.update(_probe_payroll(site, session))
    demo = " (a demo company)" if result["is_demo_company"] else ""
    result["message"] = (
        f"Connected to {name}{demo}, {result['organisation_type'].lower() or 'organisation'} "
        f"in {result['organisation_country'] or 'an unknown country'}. "
        f"Accounting OK. {result['payroll_message']}"
    ).strip()
    return result


def _organisation_signed_by_a_current_certificate(site: Site, session) -> dict:
    """Ask for the Organisation, signing with the pending certificate first (it is the one
    being rolled out), then the active one; report both fingerprints if neither works."""
    certificates = sorted(
        session.current_certificates, key=lambda c: c.state != Certificate.State.PENDING
    )
    tried = []
    for certificate in certificates:
        session.sign_with(certificate)
        try:
            return session.get_json(_join(settings.XERO_API_URL, "Organisation"))
        except SignatureInvalid as failure:
            tried.append(certificate)
            last_failure = failure
    signed_with = " and ".join(
        f"the {c.state} certificate (SHA-1 {c.fingerprint_sha1}, SHA-256 {c.fingerprint_sha256})"
        for c in tried
    )
    raise SignatureInvalid(
        signed_with=signed_with,
        http_status=last_failure.http_status,
        problem=last_failure.problem,
    )


PAYROLL_NOT_ENABLED = {
    Site.ConnectionType.PRIVATE_APP: (
        "Payroll not enabled: tick “Enable Payroll API for this organisation” in the Xero "
        "application, save, and test again."
    ),
    Site.ConnectionType.CUSTOM_CONNECTION: (
        "Payroll not enabled: add the payroll scopes to the Custom Connection in Xero's "
        "developer portal, authorise it again, and test again."
    ),
}


def _probe_payroll(site: Site, session) -> dict:
    if not site.payroll_enabled:
        return {"payroll_outcome": ConnectionTest.PayrollOutcome.SKIPPED, "payroll_message": ""}
    try:
        session.get_json(_join(settings.XERO_PAYROLL_URL, "Settings"))
    except (InsufficientScope, Forbidden, TokenRejected, XeroProblem) as failure:
        if failure.http_status not in (401, 403):
            return _payroll_failed(failure)
        return {
            "payroll_outcome": ConnectionTest.PayrollOutcome.NOT_ENABLED,
            "payroll_message": PAYROLL_NOT_ENABLED[site.connection_type],
        }
    except ConnectionTestFailed as failure:
        return _payroll_failed(failure)
    return {"payroll_outcome": ConnectionTest.PayrollOutcome.OK, "payroll_message": "Payroll OK."}


def _payroll_failed(failure) -> dict:
    return {
        "payroll_outcome": ConnectionTest.PayrollOutcome.FAILED,
        "payroll_message": f"Payroll check failed: {failure.message}",
    }


def _connection_test_passed(*, site: Site, test: ConnectionTest, user) -> None:
    if test.certificate is not None and test.certificate.state == Certificate.State.PENDING:
        certificate_activate(
            certificate=test.certificate, user=user, note="passed a connection test"
        )
    if site.xero_organisation_name != test.organisation_name:
        site.xero_organisation_name = test.organisation_name
        Site.objects.filter(pk=site.pk).update(xero_organisation_name=test.organisation_name)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path
