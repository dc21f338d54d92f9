"""Factories shared by the whole suite."""

import itertools
import subprocess
import time

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group

from customers.access import CUSTOMERS
from sites.models import Site
from sites.roles import ADMINS, STAFF, SUPPORT
from tests.second_factor import NOT_ENROLLED, VERIFIED, add_device, pass_second_factor

# A Consumer Key and Secret shaped like Xero's (30 upper-case letters and digits).
CONSUMER_KEY = "QZ7KJ1M2N3B4V5C6X7Z8L9K0J1H2YC"
CONSUMER_SECRET = "LLA9S8D7F6G5H4J3K2L1Q0W9E8R7QO"

_codes = itertools.count(1)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """A test database per pytest-xdist worker.

    PostgreSQL's gets the worker's suffix (``test_h17_gw0``, from pytest-django). SQLite's is
    a real file, so tests can read what is on disk, in the worker's own temporary folder.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("database") / "test.sqlite3"
        )


@pytest.fixture(autouse=True)
def _metrics_counts_of_this_test_only():
    """/metrics' counts are added up in the process until a flush (operations/
    counters.py): none may leak from one test into the next one's database."""
    from operations import counters

    counters.discard()
    yield
    counters.discard()


@pytest.fixture(autouse=True)
def _webhook_endpoints_read_afresh():
    """Whether any webhook endpoint listens is remembered in the process for a few seconds
    (api/webhooks.py): an endpoint of an earlier test, rolled back since, must not make the
    next test's receivers query for it."""
    from api import webhooks

    webhooks.endpoints_forget()
    yield
    webhooks.endpoints_forget()


@pytest.fixture(autouse=True)
def _encryption_keys(settings):
    """Every test runs with a key of its own, so no test can read another's secrets."""
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or bool(marker and marker.kwargs.get("transaction"))
    )


@pytest.fixture(autouse=True)
def _audit_trail_flushable(request):
    """Let a transactional test's closing flush empty the audit table on SQLite.

    The flush is a plain DELETE of every table, which the append-only triggers refuse
    (PostgreSQL flushes with TRUNCATE, which row triggers do not see). They are dropped
    just before the flush; ``append_only_triggers`` puts them back for the tests about
    them.
    """
    if not _is_transactional(request):
        yield
        return
    # Set up after the database fixture, so torn down (here) before its flush.
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import connection

    from sites import audit_triggers

    if connection.vendor == "sqlite":
        audit_triggers.uninstall(connection)


@pytest.fixture
def append_only_triggers(db):
    """The audit table's triggers, as the migration installs them (a transactional test
    before this one may have dropped them for its flush)."""
    from django.db import connection

    from sites import audit_triggers

    audit_triggers.install(connection)


@pytest.fixture
def make_site(db):
    def make_site(**fields) -> Site:
        number = next(_codes)
        fields.setdefault("name", f"Customer {number}")
        fields.setdefault("code", f"site-{number}")
        site = Site(**fields)
        site.full_clean()
        site.save()
        return site

    return make_site


@pytest.fixture
def site(make_site):
    return make_site(
        name="Acme Pty Ltd", code="acme", api_key=CONSUMER_KEY, api_secret=CONSUMER_SECRET
    )


@pytest.fixture
def make_user(db, django_user_model):
    """``make_user(role)``: a staff user in that group, with a confirmed authenticator
    (``second_factor=False``: none yet, so they must enrol at their first sign-in)."""

    def make_user(
        role: str | None = None, *, superuser: bool = False, username=None, second_factor=True
    ):
        username = username or f"{(role or 'nobody').lower()}-{next(_codes)}"
        if superuser:
            user = django_user_model.objects.create_superuser(username, password="pw-for-tests-1")
        else:
            user = django_user_model.objects.create_user(
                username, password="pw-for-tests-1", is_staff=True
            )
        if role:
            if not Group.objects.filter(name=role).exists():
                restore_roles()
            user.groups.add(Group.objects.get(name=role))
        if second_factor:
            add_device(user)
        return user

    return make_user


@pytest.fixture
def log_in():
    """``log_in(client, user)``: sign ``client`` in as ``user`` and pass the second factor with
    a code computed from their authenticator's key (``verify=False``: the password only)."""

    def log_in(client, user, *, verify=True, steps=0):
        client.force_login(user)
        if verify:
            pass_second_factor(client, user, steps=steps)
        return client

    return log_in


def restore_roles():
    """Run the role data migrations again: a transactional test's flush removed the groups."""
    from django.db import connection
    from django.db.migrations import RunPython
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    state_apps = loader.project_state().apps
    for (_app, name), migration in sorted(loader.disk_migrations.items()):
        if "roles" in name:
            for operation in migration.operations:
                if isinstance(operation, RunPython):
                    operation.code(state_apps, None)


ROLE_NAMES = {
    "staff": STAFF,
    "admins": ADMINS,
    "support": SUPPORT,
    "nobody": None,
    "customer": CUSTOMERS,
}


@pytest.fixture
def client_for(client, make_user, log_in):
    """A test client logged in as a user of the given role ('staff', 'admins', 'support',
    'nobody', 'superuser', 'customer': of no Site until given one), past the second factor.

    ``second_factor``: ``"verified"`` (the default), ``"unverified"`` (enrolled, password
    only) or ``"not_enrolled"`` (no authenticator yet, password only); see
    ``tests/second_factor.py``. The user is ``client.user``.
    """

    def client_for(role: str, *, second_factor: str = VERIFIED):
        enrolled = second_factor != NOT_ENROLLED
        if role == "superuser":
            user = make_user(superuser=True, second_factor=enrolled)
        else:
            user = make_user(ROLE_NAMES[role], second_factor=enrolled)
        log_in(client, user, verify=second_factor == VERIFIED)
        client.user = user
        return client

    return client_for


@pytest.fixture
def issue_certificate(db):
    """Issue a certificate through the service, as the Admin's button does."""
    from xero.services import certificate_issue

    def issue_certificate(site, **options):
        return certificate_issue(site=site, **options)

    return issue_certificate


def audit_rows_text() -> str:
    """Every column of every audit row, as the database holds it, in one string."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT CAST(t AS text) FROM sites_auditentry t")
        else:
            cursor.execute("SELECT * FROM sites_auditentry")
        return "\n".join(str(row) for row in cursor.fetchall())


def database_files_bytes() -> bytes:
    """The SQLite database file and its write-ahead log (empty on PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return b""
    return sqlite_files_bytes(connection.settings_dict["NAME"])


def all_rows_text() -> bytes:
    """Every row of every table as the database prints it (what a pg_dump holds); the
    SQLite test of a copy reads ``database_files_bytes`` instead."""
    from django.db import connection

    text = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if connection.vendor == "postgresql":
                cursor.execute(f'SELECT CAST(t AS text) FROM "{table}" t')  # noqa: S608
            else:
                cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - the tables' own names
            text += [str(row) for row in cursor.fetchall()]
    return "\n".join(text).encode()


def readable_text(blob: str) -> str:
    """``blob`` plus what anyone can read out of the Django-signed values in it (signed is
    not encrypted: the payload before the first colon is base64, perhaps zlib-compressed)."""
    import re
    import zlib

    from django.core import signing

    found = [blob]
    for token in re.findall(r"\.?[A-Za-z0-9_\-]{8,}:[A-Za-z0-9_\-]+:[A-Za-z0-9_\-]+", blob):
        payload = token.split(":")[0]
        try:
            data = signing.b64_decode(payload.lstrip(".").encode())
            if payload.startswith("."):
                data = zlib.decompress(data)
        except (ValueError, zlib.error):
            continue
        found.append(data.decode("utf-8", "replace"))
    return "\n".join(found)


def sqlite_files_bytes(path) -> bytes:
    """The bytes of the SQLite file at ``path`` and of its -wal file, read by another process.

    Closing any descriptor of a file drops every POSIX lock this process holds on it, the
    locks of its open SQLite connections included (SQLite's "how to corrupt" page, 2.2).
    A worker process could then checkpoint and truncate the WAL under a connection still
    reading it: "database disk image is malformed". ``cat`` opens and closes the files in a
    process of its own.
    """
    from pathlib import Path

    path = Path(path)
    existing = [str(f) for f in (path, path.with_name(path.name + "-wal")) if f.exists()]
    if not existing:
        return b""
    return subprocess.run(["cat", *existing], capture_output=True, check=True).stdout


def assert_secret_not_recorded(*secrets: str) -> None:
    """Neither the secrets nor any ciphertext is in the audit table or the database files."""
    rows = audit_rows_text()
    files = database_files_bytes()
    for secret in secrets:
        assert secret not in rows
        assert secret.encode() not in files
    # Fernet tokens start with the version byte 0x80, "gAAAAA" in base64.
    assert "gAAAAA" not in rows


@pytest.fixture
def one_clock_hour():
    """For a test whose requests must fall in one clock hour (counters kept per hour): when
    less than 30 s of the hour are left, wait for the next one to begin."""
    left = 3600 - time.time() % 3600
    if left < 30:
        time.sleep(left + 0.1)


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives in
    ``.received`` (envelopes: ``mail_from``, ``rcpt_tos``, ``content``)."""
    from tests.mailserver import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_through_outbox(settings, django_capture_on_commit_callbacks):
    """Mail as production sends it: ``send_mail`` stores an outbox row and its task sends it
    once the transaction commits. The suite's default is Django's test backend (locmem, set
    by its test runner) straight, so ``mail.outbox`` fills at once; this fixture puts the
    outbox in front of it (transport: locmem unless a test sets ``OUTBOX_EMAIL_BACKEND``),
    and the tasks run in the process (ImmediateBackend). Use ``mail_through_outbox()`` as a
    context: the transaction's commit callbacks (the tasks) run when it ends."""
    settings.EMAIL_BACKEND = "outbox.backends.OutboxBackend"
    settings.OUTBOX_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    def committing():
        return django_capture_on_commit_callbacks(execute=True)

    return committing
