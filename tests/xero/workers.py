"""Helpers for the tests that run real worker processes against the test database."""

import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.environment import TEST_ENVIRONMENT, manage_environment
from xero.certificates import fingerprint
from xero.models import Alert, Certificate, ConnectionTest, QueuedCheck

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database's URL, for processes that share it with the test."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    auth = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    return f"postgres://{auth}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"


def worker_environment(fake, **extra) -> dict:
    """The environment of a worker process: the test's database, key and fake Xero."""
    return manage_environment(
        **{
            **TEST_ENVIRONMENT,
            "DATABASE_URL": database_url(),
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "XERO_API_URL": fake.api_url,
            "XERO_PAYROLL_URL": fake.payroll_url,
            "XERO_IDENTITY_URL": fake.identity_url,
            "XERO_CONNECTIONS_URL": fake.connections_url,
            "XERO_TEST_COOLDOWN": "0",
            "LOG_LEVEL": "ERROR",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            **{key: str(value) for key, value in extra.items()},
        }
    )


def manage(environment, *args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def start(environment, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


DB_WORKER = ("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--verbosity", "0")


def wait_for(condition, *, what: str, process=None, limit: float = 120) -> None:
    """Poll until ``condition()``; fail (not time anything) if it never comes."""
    give_up = time.monotonic() + limit
    while not condition():
        if process is not None and process.poll() is not None:
            log = process.stderr.read() if process.stderr else "(its log is in a file)"
            raise AssertionError(f"the worker exited before {what}: {log}")
        if time.monotonic() > give_up:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.05)


def private_fleet(make_site, issue_certificate, fake, count: int):
    """``count`` private-application Sites the fake Xero knows, sharing one key pair (issuing
    one each would take seconds)."""
    first = make_site(api_key="WORKERKEY" + "0" * 21, api_secret="s" * 30, payroll_enabled=False)
    certificate = issue_certificate(first)
    sites = [first]
    for number in range(1, count):
        site = make_site(
            api_key=f"WORKERKEY{number:021d}", api_secret="s" * 30, payroll_enabled=False
        )
        Certificate.objects.create(
            site=site,
            state=Certificate.State.ACTIVE,
            certificate_pem=certificate.certificate_pem,
            private_key_pem=certificate.private_key_pem,
            serial_number=certificate.serial_number,
            key_size=certificate.key_size,
            fingerprint_sha1=fingerprint(certificate.certificate_pem, "sha1"),
            fingerprint_sha256=fingerprint(certificate.certificate_pem, "sha256"),
            not_valid_before=certificate.not_valid_before,
            not_valid_after=certificate.not_valid_after,
        )
        sites.append(site)
    for site in sites:
        fake.register_private_app(site.api_key, certificate.certificate_pem, payroll_enabled=False)
    return sites


def fresh_passes(since) -> Counter:
    """How many passing tests each Site has had since ``since``, by Site id."""
    return Counter(
        ConnectionTest.objects.filter(started_at__gt=since, outcome="ok").values_list(
            "site_id", flat=True
        )
    )


def assert_each_site_passed_once(sites, since) -> None:
    """What every fault test asserts at its end: each of ``sites`` has exactly one fresh
    pass, whatever else the fault left (interrupted, our own trouble) blames no Site, no
    alert went out, and nothing is left running or queued."""
    assert fresh_passes(since) == {site.pk: 1 for site in sites}
    outcomes = set(
        ConnectionTest.objects.filter(started_at__gt=since).values_list("outcome", flat=True)
    )
    assert not [o for o in outcomes if ConnectionTest.Outcome.is_failing(o)], outcomes
    assert not Alert.objects.exists()
    assert not ConnectionTest.objects.filter(outcome=ConnectionTest.Outcome.RUNNING).exists()
    assert not QueuedCheck.objects.exists()


def freeze_outside_a_transaction(freeze, thaw, *, limit: float = 120) -> None:
    """``freeze()`` a worker (SIGSTOP) at a moment it holds no database transaction open;
    ``thaw()`` undoes it.

    A process frozen inside a write transaction keeps its locks until it wakes: on SQLite
    the database's one write lock, which stops every other writer, on PostgreSQL its rows'
    (docs/fleet-health.md says so). No lease can heal that, so the lease's tests freeze
    the worker between its transactions, where a pause leaves only its lease behind.
    """
    deadline = time.monotonic() + limit
    while True:
        freeze()
        time.sleep(0.2)  # a statement under way on the server ends meanwhile
        if not another_process_holds_a_transaction():
            return
        thaw()
        assert time.monotonic() < deadline, "the worker was never caught between transactions"
        time.sleep(0.05)


def another_process_holds_a_transaction() -> bool:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
            return cursor.fetchone()[0] > 0
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:  # "database is locked": a writer holds it
        return True
    finally:
        probe.close()
