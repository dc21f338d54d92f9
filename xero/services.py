"""Writes of the Xero app: issue and promote certificates, run connection tests."""

import datetime
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from sites.models import Site
from warehouse import ages, database, signals
from warehouse.logs import log_context

from . import certificates, client, connection
from .audit import record_connection_test
from .exceptions import (
    CertificateKeySizeInvalid,
    CertificateNotPending,
    CertificateNotReactivatable,
    CertificateValidityInvalid,
    ConnectionTestCooldown,
    ConnectionTestFailed,
    LeaseLost,
    WarehouseBusy,
    WarehouseStorageFailed,
)
from .models import INTERRUPTED_MARGIN, Certificate, CertificateEvent, ConnectionTest

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


def _retire(certificates, *, now, user=None, note=""):
    if hasattr(certificates, "select_for_update"):
        certificates = certificates.select_for_update()
    for old in certificates:
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


def certificate_reactivate(
    *, certificate: Certificate, user=None, now: datetime.datetime | None = None
) -> Certificate:
    """Make a certificate a newer one retired active again, within
    ``XERO_CERTIFICATE_REACTIVATION_HOURS``: the way back when the newer one was made active
    before Xero held it. The newer one goes back to pending (a pass with it makes it active
    again), or is retired if another certificate is pending meanwhile."""
    now = now or timezone.now()
    with transaction.atomic():
        Site.objects.select_for_update().filter(pk=certificate.site_id).values_list("pk").first()
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if not certificate.can_be_reactivated(now):
            raise CertificateNotReactivatable(hours=settings.XERO_CERTIFICATE_REACTIVATION_HOURS)
        site_certificates = Certificate.objects.filter(site_id=certificate.site_id)
        for newer in site_certificates.active().select_for_update():
            if site_certificates.pending().exists():
                _retire([newer], now=now, user=user, note="the one it replaced is active again")
                continue
            newer.state = Certificate.State.PENDING
            newer.save(update_fields=["state"])
            CertificateEvent.objects.create(
                certificate=newer,
                action=CertificateEvent.Action.PENDING_AGAIN,
                user=user,
                at=now,
                note="the one it replaced is active again",
            )
        certificate.state = Certificate.State.ACTIVE
        certificate.activated_at = now
        certificate.retired_at = None
        certificate.save(update_fields=["state", "activated_at", "retired_at"])
        CertificateEvent.objects.create(
            certificate=certificate,
            action=CertificateEvent.Action.ACTIVATED,
            user=user,
            at=now,
            note="made active again by hand",
        )
    return certificate


def certificate_record_download(*, certificate: Certificate, user) -> None:
    CertificateEvent.objects.create(
        certificate=certificate, action=CertificateEvent.Action.DOWNLOADED, user=user
    )


def connection_test_run(
    *,
    site: Site,
    user=None,
    now: datetime.datetime | None = None,
    claimed: ConnectionTest | None = None,
    audited: bool = False,
    fence: Callable[[ConnectionTest], None] | None = None,
):
    """Test whether ``site`` can talk to Xero, keep the result as a history row, return it.

    Raises ``ConnectionTestCooldown`` (and records nothing) when the Site was tested in the
    last ``XERO_TEST_COOLDOWN`` seconds, and ``WarehouseBusy`` when the database is too busy
    to start a row within the test's budget. Every other failure is recorded as the row's
    outcome, never raised, and the row never stays running. A pass with a pending
    certificate makes it the active one. The conversation with Xero is the connection
    type's (``xero/connection/``). ``claimed`` is a running row the caller already started
    past the cooldown (a fleet chunk claims its Sites' rows in one go,
    ``fleet.fleet_chunk_run``). ``audited``: a test run by hand (the button, the command),
    whose row in the audit trail is written here, within the same budget.

    ``fence(test)`` runs in the transaction that saves the result
    and raises ``LeaseLost`` when the caller's lease on the check lapsed: then nothing is
    recorded (the row says interrupted) and ``LeaseLost`` is raised.

    The whole call ends within the budget however the database is locked: what cannot be
    written by then (the result, the trail's row) is written as soon as the lock is released
    (``warehouse.database.write_when_free``), so no row stays running, and the page or the
    command says "the database was busy".
    """
    now = now or timezone.now()
    budget = session_budget()
    deadline = time.monotonic() + budget
    # Waits for the database's locks come out of the test's budget too: a lock held
    # elsewhere makes the test warehouse_busy, never a long wait blamed on Xero.
    # For /metrics: how the test was started, unless the caller said (operations).
    origin = signals.test_started_by.get() or (
        "fleet" if claimed is not None else "button" if user is not None else "command"
    )
    with (
        database.lock_waits_at_most(budget),
        client.calls_end_by(deadline),
        signals.started_by(origin),
        log_context(site=site.code),
    ):
        test = claimed
        if test is None:
            try:
                test = _connection_test_claim(site=site, user=user, now=now)
            except DatabaseError as error:
                if isinstance(error, OperationalError) or database.is_storage_failure(error):
                    raise _database_failure(error) from None
                raise
        return _connection_test_finish(
            test=test,
            site=site,
            user=user,
            now=now,
            deadline=deadline,
            audited=audited,
            fence=fence,
        )


def _connection_test_finish(
    *, test, site, user, now, deadline, audited=False, fence=None
) -> ConnectionTest:
    started = time.monotonic()
    conversation = None
    try:
        conversation = connection.connection_for(site, now=now)
        result = conversation.run()
    except ConnectionTestFailed as failure:
        _record_failure(test, failure)
        test.certificate = getattr(conversation, "certificate", None)
    except OperationalError as error:
        logger.warning("Connection test of site %s: the database failed: %s", site.code, error)
        _record_failure(test, _database_failure(error))
    except Exception:
        # A fault of ours: the person pressing the button gets a plain answer, the
        # developers the traceback in the log.
        logger.exception("Connection test of site %s failed unexpectedly", site.code)
        test.outcome = ConnectionTest.Outcome.INTERNAL_ERROR
        test.message = INTERNAL_ERROR_MESSAGE
    else:
        test.outcome = ConnectionTest.Outcome.OK
        test.certificate = conversation.certificate
        for field, value in result.items():
            setattr(test, field, value)
    test.latency_ms = round((time.monotonic() - started) * 1000)
    if conversation is not None:
        calls_left = conversation.calls_left()
        test.minute_limit_remaining = calls_left.minute
        test.day_limit_remaining = calls_left.day
    # Every write from here waits only for what is left of the budget (a moment, when Xero
    # took all of it): what a lock keeps out is written once it is released instead.
    end = deadline
    later: list = []
    slack = 0.0 if audited else WAIT_SLACK_SECONDS
    saved = _connection_test_save(test, end=end, slack=slack, later=later, fence=fence)
    if audited:
        _connection_test_audit(test, end=end, saved=saved, later=later)
    if later:
        _write_later(test, later)
    if not saved:
        return test
    signals.connection_test_recorded.send(
        sender=ConnectionTest, test=test, started_by=signals.test_started_by.get()
    )
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


def _database_failure(error: DatabaseError) -> WarehouseBusy:
    """Our own database's failure as the test's outcome: full or read-only, else busy."""
    if database.is_storage_failure(error):
        return WarehouseStorageFailed()
    return WarehouseBusy(seconds=f"{session_budget():g}")


def session_budget() -> float:
    """A test's budget in seconds: how long a test may take (docs/connection-types.md)."""
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


# A wait already set this much longer than what is left is kept as it is, for tests not run
# by hand (a fleet chunk counts its statements per Site): they may end up to this much past
# their budget when a lock comes at their very end. Tests run by hand wait exactly.
WAIT_SLACK_SECONDS = 1.0


def _wait_until(end: float, *, slack: float) -> None:
    database.set_lock_wait(max(end - time.monotonic(), 0.001), slack=slack)


def _connection_test_save(
    test: ConnectionTest, *, end: float, slack: float, later: list, fence=None
) -> bool:
    """Save the result by ``end`` (``time.monotonic()``); if even that fails, the same row
    says ``internal_error``, or ``warehouse_busy`` when the database stayed locked.

    A row is never left running: a fault goes to the log with its traceback, and an outcome
    the lock kept out is put on ``later`` (written once the lock is released). Returns
    whether the result is in the database now.
    With a ``fence`` that refuses (``LeaseLost``), nothing is saved, the row says
    interrupted, and ``LeaseLost`` is raised.
    """
    test.make_safe_to_save()
    _wait_until(end, slack=slack)
    try:
        with transaction.atomic():
            if fence is not None:
                fence(test)
            test.save_result()
        return True
    except LeaseLost:
        logger.warning(
            "Connection test of site %s: the worker's lease lapsed, result not recorded",
            test.site.code,
        )
        test.outcome = ConnectionTest.Outcome.INTERRUPTED
        test.message = LEASE_LOST_MESSAGE
        ConnectionTest.objects.filter(pk=test.pk, outcome=ConnectionTest.Outcome.RUNNING).update(
            outcome=test.outcome, message=test.message
        )
        raise
    except OperationalError as error:
        logger.warning(
            "Saving the connection test of site %s: the database failed: %s", test.site.code, error
        )
        _record_failure(test, _database_failure(error))
        later.append(lambda: _outcome_write(test))
        return False
    except DatabaseError as error:
        if database.is_storage_failure(error):
            logger.warning(
                "Saving the connection test of site %s: the database cannot write: %s",
                test.site.code,
                error,
            )
            _record_failure(test, WarehouseStorageFailed())
        else:
            logger.exception("Saving the connection test of site %s failed", test.site.code)
            test.outcome = ConnectionTest.Outcome.INTERNAL_ERROR
            test.message = INTERNAL_ERROR_MESSAGE
    except Exception:
        logger.exception("Saving the connection test of site %s failed", test.site.code)
        test.outcome = ConnectionTest.Outcome.INTERNAL_ERROR
        test.message = INTERNAL_ERROR_MESSAGE
    _wait_until(end, slack=slack)
    try:
        _outcome_write(test)
    except OperationalError:
        later.append(lambda: _outcome_write(test))
    except DatabaseError:
        # Still running in the database: it is marked interrupted once its budget and
        # margin have passed (ConnectionTest.objects.stale()).
        logger.exception("Could not record the outcome of site %s's test", test.site.code)
    return False


def _outcome_write(test: ConnectionTest) -> None:
    # Only a row still running: written again after a retry, it changes nothing.
    ConnectionTest.objects.filter(pk=test.pk, outcome=ConnectionTest.Outcome.RUNNING).update(
        outcome=test.outcome,
        message=test.message,
        step=test.step,
        latency_ms=test.latency_ms,
    )


def _connection_test_audit(test: ConnectionTest, *, end: float, saved: bool, later: list):
    """The trail's row of a test run by hand: now if the database lets it by ``end``, else
    on ``later``, after the test's own row."""
    if saved:
        _wait_until(end, slack=0.0)
        try:
            with transaction.atomic():
                record_connection_test(test=test)
            return
        except OperationalError:
            pass
    written: list[bool] = []

    def write() -> None:
        if not written:
            record_connection_test(test=test)
            written.append(True)

    later.append(write)


def _write_later(test: ConnectionTest, writes: list) -> None:
    """Do ``writes`` in order once the lock is released, in one thread: before
    ``ConnectionTest.objects.stale()`` would call the row interrupted on the next look."""

    def write_all() -> None:
        for write in writes:
            write()

    database.write_when_free(
        write_all,
        until=time.monotonic() + session_budget() + INTERRUPTED_MARGIN.total_seconds(),
        name=f"Recording site {test.site.code}'s connection test",
    )


LEASE_LOST_MESSAGE = (
    "The test did not count: the worker running it was paused past its lease, and the Site "
    "was queued again for another worker; its result is the one that counts."
)


def connection_tests_interrupt_stale(*, site: Site | None = None, now=None) -> int:
    """Mark the rows of tests whose process died as interrupted (all Sites, or ``site``'s).

    Called whenever a Site's tests are started or shown, so no row says running for good.
    """
    stale = ConnectionTest.objects.stale(now=now)
    if site is not None:
        stale = stale.filter(site=site)
    return stale.update(
        outcome=ConnectionTest.Outcome.INTERRUPTED, message=ConnectionTest.INTERRUPTED_MESSAGE
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
            raise ConnectionTestCooldown(ago=ages.ago(last, now))
        return ConnectionTest.objects.create(
            site=site, run_by=user, started_at=now, connection_type=site.connection_type
        )


def _connection_test_passed(*, site: Site, test: ConnectionTest, user) -> None:
    if test.certificate is not None and test.certificate.state == Certificate.State.PENDING:
        certificate_activate(
            certificate=test.certificate, user=user, note="passed a connection test"
        )
    if site.xero_organisation_name != test.organisation_name:
        site.xero_organisation_name = test.organisation_name
        Site.objects.filter(pk=site.pk).update(xero_organisation_name=test.organisation_name)
