"""A throwaway database for the benchmarks, and a fleet of Sites to fill it quickly.

Import before Django is set up: it sets the environment the benchmarks run under, and
their worker processes inherit it. Like the tests, a benchmark has one input from the
shell, ``DATABASE_URL``; a `.env` file and the rest of the shell are ignored, so a fresh
clone measures the Warehouse's defaults (DEBUG off, so no query log grows and templates
are cached as in production), with throwaway keys for its throwaway data.
"""

import base64
import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path

# What a process needs to start (PATH finds openssl), and the one input.
KEPT_FROM_SHELL = ("PATH", "HOME", "LANG", "TMPDIR", "DATABASE_URL")

_kept = {name: os.environ[name] for name in KEPT_FROM_SHELL if name in os.environ}
os.environ.clear()
os.environ.update(
    _kept,
    DJANGO_SETTINGS_MODULE="warehouse.settings",
    READ_DOT_ENV_FILE="False",
    SECRET_KEY=secrets.token_urlsafe(50),
    FIELD_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    DEBUG="False",
    SECURE_SSL_REDIRECT="False",
    ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
    LOG_LEVEL="WARNING",
)


def worker_environment(*, database_url: str, fake_url: str, cap: int, **more: str) -> dict:
    """The environment of a worker process: this one's (keys included), on the throwaway
    database, talking to the fake Xero at ``fake_url``, with ``cap`` calls at once."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "XERO_MAX_CONCURRENT_CALLS": str(cap),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "XERO_API_URL": f"{fake_url}/api.xro/2.0/",
        "XERO_PAYROLL_URL": f"{fake_url}/payroll.xro/1.0/",
        "XERO_IDENTITY_URL": f"{fake_url}/connect/token",
        "XERO_CONNECTIONS_URL": f"{fake_url}/connections",
        **more,
    }


@contextmanager
def throwaway_database():
    """Create a fresh database beside the configured one (``test_<name>`` on PostgreSQL, a
    temporary file on SQLite), migrated; yield its DATABASE_URL; drop it afterwards."""
    import django

    django.setup()
    from django.db import connection

    with tempfile.TemporaryDirectory() as folder:
        database = connection.settings_dict
        if connection.vendor == "sqlite":
            database.setdefault("TEST", {})["NAME"] = str(Path(folder) / "bench.sqlite3")
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        if connection.vendor == "sqlite":
            url = f"sqlite:///{name}"
        else:
            auth = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
            url = f"postgres://{auth}@{database['HOST']}:{database['PORT'] or 5432}/{name}"
        try:
            yield url
        finally:
            connection.creation.destroy_test_db(name, verbosity=0)


def build_fleet(*, sites: int, tests_per_site: int = 0, payroll: bool = False) -> list[str]:
    """Make ``sites`` private-application Sites, each with an active certificate (one key
    pair shared by all: generating 10,000 would take minutes) and ``tests_per_site``
    connection tests, a fifth of them failing, with bulk_create. Returns the API keys."""
    import datetime

    from django.utils import timezone

    from sites.models import Site
    from xero.certificates import fingerprint, generate_certificate, load_certificate
    from xero.models import Certificate, ConnectionTest

    now = timezone.now()
    issued = generate_certificate(site_name="Bench", site_code="bench", key_size=2048, days=1825)
    loaded = load_certificate(issued.certificate_pem)
    keys = [f"BENCHKEY{number:022d}" for number in range(sites)]
    Site.objects.bulk_create(
        (
            Site(
                name=f"Customer {number:05}",
                code=f"site-{number:05}",
                api_key=keys[number],
                api_secret="s" * 30,
                payroll_enabled=payroll,
                xero_organisation_name=f"Organisation {number:05} Pty Ltd",
            )
            for number in range(sites)
        ),
        batch_size=1000,
    )
    site_ids = list(Site.objects.order_by("pk").values_list("pk", flat=True))
    Certificate.objects.bulk_create(
        (
            Certificate(
                site_id=site_id,
                state=Certificate.State.ACTIVE,
                certificate_pem=issued.certificate_pem,
                private_key_pem=issued.private_key_pem,
                serial_number=f"{loaded.serial_number:X}",
                key_size=2048,
                fingerprint_sha1=fingerprint(issued.certificate_pem, "sha1"),
                fingerprint_sha256=fingerprint(issued.certificate_pem, "sha256"),
                not_valid_before=loaded.not_valid_before_utc,
                # A spread of expiry dates, some within the warning window.
                not_valid_after=now + datetime.timedelta(days=10 + site_id % 700),
                issued_at=now,
                activated_at=now,
            )
            for site_id in site_ids
        ),
        batch_size=1000,
    )
    hour = datetime.timedelta(hours=1)
    for start in range(0, len(site_ids), 1000):
        ConnectionTest.objects.bulk_create(
            (
                ConnectionTest(
                    site_id=site_id,
                    started_at=now - (run + 1) * hour,
                    connection_type=Site.ConnectionType.PRIVATE_APP,
                    outcome="ok" if (site_id + run) % 5 else "signature_invalid",
                    latency_ms=120,
                )
                for site_id in site_ids[start : start + 1000]
                for run in range(tests_per_site)
            ),
            batch_size=2000,
        )
    return keys
