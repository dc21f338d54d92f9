"""Settings for the Warehouse.

This is the only module that reads the environment (through django-environ, and a
``.env`` file beside ``manage.py`` when there is one). Everything else reads
``django.conf.settings`` at call time.
"""

import os
import warnings
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from warehouse.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


class Env(environ.Env):
    """django-environ's reader, whose malformed values (``AUDIT_RETENTION_DAYS=ten``) end in
    ``ImproperlyConfigured`` naming the variable: manage.py says it in one line."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ValueError as error:
            raise ImproperlyConfigured(
                f"The environment variable {var} holds a value that is not what it must be "
                f"({error}). Correct it in the environment or .env, or remove it for the "
                "default (docs/operating.md)."
            ) from None

    def int(self, var, default=environ.Env.NOTSET, *, between: tuple[int, int] | None = None):
        """A whole number; with ``between``, one inside those bounds."""
        return self._within(var, super().int(var, default=default), between, "a whole number")

    def float(self, var, default=environ.Env.NOTSET, *, between: tuple | None = None):
        """A number; with ``between``, one inside those bounds."""
        return self._within(var, super().float(var, default=default), between, "a number")

    @staticmethod
    def _within(var, value, between, kind):
        # NaN is inside no bounds: every comparison with it is false.
        if between and not between[0] <= value <= between[1]:
            raise ImproperlyConfigured(
                f"The environment variable {var} must be {kind} from {between[0]:,} to "
                f"{between[1]:,}. Correct it in the environment or .env, or remove it for the "
                "default (docs/operating.md)."
            )
        return value

    def choice(self, var, *, default: str, choices: tuple[str, ...]) -> str:
        """One of ``choices``, said with the others when it is not."""
        value = self.str(var, default=default)
        if value not in choices:
            raise ImproperlyConfigured(
                f"The environment variable {var} must be one of {', '.join(choices)}. Correct it "
                "in the environment or .env, or remove it for the default (docs/operating.md)."
            )
        return value

    def db_url(self, var=environ.Env.DEFAULT_DATABASE_ENV, default=environ.Env.NOTSET, engine=None):
        """The database of ``var``; a URL the Warehouse cannot use (empty, malformed, or of
        another database) is said in one line that leaves out its text, which may hold a
        password."""
        try:
            # Its warning about an unknown scheme would print the parsed URL, password and all.
            with warnings.catch_warnings(action="ignore"):
                config = super().db_url(var, default=default, engine=engine)
        except ValueError:
            config = {}
        if config.get("ENGINE") not in SUPPORTED_DATABASE_ENGINES:
            raise ImproperlyConfigured(
                f"The environment variable {var} is not a database URL the Warehouse can use: "
                "it must be postgres://user:password@host:5432/name or "
                "sqlite:///path/to/file.sqlite3. Correct it in the environment or .env, or "
                "remove it for the default (docs/operating.md)."
            )
        return config

    db = db_url


# SQLite embedded, PostgreSQL for production: the only databases the Warehouse is tested on.
SUPPORTED_DATABASE_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")

# Bounds of the numbers read from the environment: wide enough for any sensible value, and
# narrow enough that a date or a duration reckoned from one cannot overflow (past year 9999).
DAYS_BOUNDS = (1, 100 * 366)
PORT_BOUNDS = (1, 65535)
A_YEAR = 366 * 86_400  # seconds

env = Env()
# Variables already in the environment win over the .env file. READ_DOT_ENV_FILE=False
# ignores the file: the tests' manage.py subprocesses and CI's checks run on an explicit
# environment only (the suite itself reads fixed values: tests/environment.py).
if env.bool("READ_DOT_ENV_FILE", default=True):
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys for secrets at rest, newest first. Kept apart from SECRET_KEY so that
# either can be rotated alone: see `manage.py rotate_encryption_keys`.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    # The admin with the Warehouse's site (active + staff + second factor): its gate guards
    # every page, the Xero ones included (accounts/adminsite.py).
    "accounts.apps.WarehouseAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Labelled "sites": django.contrib.sites must never be installed beside it.
    "sites",
    # Every email as a row sent by a task (EMAIL_BACKEND below).
    "outbox",
    # The audit trail's library; its rows live in sites.AuditEntry (AUDITLOG_LOGENTRY_MODEL).
    # After "sites", whose auditlogflush and auditlogmigratejson replace the library's (an
    # earlier app's command wins): the trail is append-only.
    "auditlog",
    "xero",
    # Passkeys, a django-otp device (OTP_WEBAUTHN_* below); before accounts, whose pages
    # are the only way to add, use and remove one.
    "django_otp_webauthn",
    # After django.contrib.auth: its admin replaces the User admin.
    "accounts",
    "axes",
    "customers",
    "django_tasks",
    # The Interconnect API (docs/api.md); "ninja" serves its Swagger UI from our static files.
    "ninja",
    "api",
    # Probes, metrics and the workers' heartbeats (docs/production.md). Before
    # django_tasks_db: its db_worker command (with a heartbeat) replaces the library's.
    "operations",
]

MIDDLEWARE = [
    # First: every log line of the request carries its id (docs/production.md, "Logs").
    "operations.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Early, so that every answer carries X-Frame-Options: DENY, those of the middleware
    # below too (the customer fence's 404 and redirects, the probes, static files).
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Production (docs/production.md): the app serves /static/ itself, before anything else
    # reads the request (no session, no database for a stylesheet).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /healthz and /readyz, before sessions, the login and the host check.
    "operations.middleware.ProbeMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks request.user verified when this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # After CSRF and the second factor: the code that completes a dangerous action asked for
    # with a fresh second factor puts the kept form's data back (accounts/sudo.py).
    "accounts.sudo.FreshSecondFactorMiddleware",
    # After authentication: the audit trail records the request's user and address.
    "sites.origin.AuditMiddleware",
    # A signed-in user's 403s and 404s in the audit trail, the customer fence's included.
    "sites.middleware.RefusedAccessMiddleware",
    # Once the user is known: a customer reaches their own Sites' pages only.
    "customers.middleware.CustomerFenceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "sites.middleware.EncryptionKeyErrorMiddleware",
    # Last, so it sees the lockouts flagged by the backend and the second-factor page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: a locked-out username+address is refused before its password is checked.
# Then Django's own, which also takes an email address in any case (accounts/backends.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailAddressBackend",
]

ROOT_URLCONF = "warehouse.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "warehouse.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}

# Seconds a statement outside a connection test may wait for SQLite's write lock; the web
# server's worker timeout allows for it (warehouse/production.py).
DATABASE_LOCK_WAIT = env.int("DATABASE_LOCK_WAIT", default=20, between=(1, 3600))

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts, so that concurrent writers queue
    # instead of failing with "database is locked" halfway through. Write-ahead logging
    # lets pages read while a worker writes, and with synchronous=NORMAL a commit does not
    # wait for the disk (a power cut may lose the last commits, never corrupt the file).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": DATABASE_LOCK_WAIT,
            # secure_delete: a deleted row's bytes are overwritten with zeros, so a deleted
            # Site's encrypted secrets do not linger in the file's free pages.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=ON;"
            ),
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-au"
TIME_ZONE = env("TIME_ZONE", default="UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (ValueError, zoneinfo.ZoneInfoNotFoundError):
    raise ImproperlyConfigured(
        "The environment variable TIME_ZONE must name a time zone of the IANA database, such "
        "as UTC or Australia/Sydney. Correct it in the environment or .env, or remove it for "
        "the default (docs/operating.md)."
    ) from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Production (docs/production.md): `collectstatic` writes each file under a name with its
# content's hash plus gzip and Brotli copies, and WhiteNoise serves the hashed names with a
# ten-year Cache-Control (a changed file gets a new name). Development and the tests keep
# the plain storage, which needs no `collectstatic` before a page renders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# Sessions a backup cannot replay (accounts/sessions.py): rows keep a keyed hash of
# the key and encrypted data. A session ends after this long without a request, and this
# long after it began, whatever the browser's cookie says (checked on the server).
SESSION_ENGINE = "accounts.sessions"
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30, between=(1, A_YEAR // 60))
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12, between=(1, A_YEAR // 3600))
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600

# Access (docs/security.md, "Roles"). Every user must pass a TOTP second factor; only an explicit
# False (development, some tests) turns it off, and `check --deploy` then warns.
REQUIRE_TWO_FACTOR = env.bool("REQUIRE_TWO_FACTOR", default=True)
# Dangerous actions (docs/security.md, "A fresh second factor") need a second factor passed
# within this many minutes; an older one is asked for again, and the action then completes.
FRESH_SECOND_FACTOR_MINUTES = env.int(
    "FRESH_SECOND_FACTOR_MINUTES", default=10, between=(0, 24 * 60)
)
# The name authenticator apps show beside the codes.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Warehouse")
# The first superuser's name for `manage.py ensure_initial_superuser` (or its --username).
INITIAL_SUPERUSER_USERNAME = env.str("INITIAL_SUPERUSER_USERNAME", default="")

# Login throttling (django-axes): five failures of one username from one address, passwords
# and second-factor codes counted together, lock that pair out for 15 minutes. Failures while
# locked out do not push the time back, so the lockout page's "try again at" holds.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Failed attempts keep the form's fields: never the codes, the password (always masked) or the
# name as typed, which may be a password typed into the wrong box.
AXES_SENSITIVE_PARAMETERS = ["code", "username"]
# The name a failure counts against and axes stores: the account's login name, or a keyed
# hash of a name that is no account's (accounts/lockout.py).
AXES_USERNAME_CALLABLE = "accounts.lockout.attempt_username"
# Whose address a failure counts against: see warehouse/addresses.py.
AXES_CLIENT_IP_CALLABLE = "warehouse.addresses.client_ip_address"

# Content-Security-Policy (django-csp): scripts, styles and images from our own static files
# only; no inline script or style, no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Exports (dumpdata, loaddata, fixtures) carry encrypted fields as ciphertext, never plaintext.
SERIALIZATION_MODULES = {
    name: f"sites.serializers.{name}" for name in ["json", "jsonl", "python", "xml", "yaml"]
}

# HTTPS hardening: on by default whenever DEBUG is off (`manage.py check --deploy`).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000, between=(0, 2 * A_YEAR)
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# The one place that says which reverse proxy is trusted (docs/production.md, "Behind a
# proxy"): addresses or networks (comma-separated, e.g. 127.0.0.1,10.0.0.0/8) whose
# X-Forwarded-For and X-Forwarded-Proto count. django-axes' lockouts and the audit trail take
# the client's address from X-Forwarded-For only when the connection comes from one of these;
# gunicorn.conf.py gives the same list to gunicorn's forwarded_allow_ips; SECURE_PROXY_SSL
# follows it unless set. `check --deploy` warns when they disagree (warehouse/production.py).
TRUSTED_PROXY_IPS = env.list("TRUSTED_PROXY_IPS", default=[])
SECURE_PROXY_SSL = env.bool("SECURE_PROXY_SSL", default=bool(TRUSTED_PROXY_IPS))
if SECURE_PROXY_SSL:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The probes answer on plain HTTP too, so a load balancer on the private network reaches them.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]

# gunicorn (gunicorn.conf.py): where it listens, and how many processes and threads per
# process. Requests mostly wait on Xero, so threads are cheap; one process per core plus one.
WEB_BIND = env.str("WEB_BIND", default="127.0.0.1:8000")
WEB_WORKERS = env.int("WEB_WORKERS", default=(os.cpu_count() or 1) + 1, between=(1, 4096))
WEB_THREADS = env.int("WEB_THREADS", default=4, between=(1, 1000))

# Tracebacks (DEBUG pages, error mails) never show secrets, whatever the variable's name.
DEFAULT_EXCEPTION_REPORTER_FILTER = "warehouse.reporting.SecretHidingExceptionReporterFilter"

# Logs (warehouse/logs.py): one line per record with the request id, user id and Site code
# when known, secrets redacted; LOG_FORMAT=json writes one JSON object per line instead.
LOG_FORMAT = env.choice("LOG_FORMAT", default="text", choices=("text", "json"))
LOG_LEVEL = env.choice(
    "LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)

# Xero certificates (see xero/certificates.py).
XERO_CERTIFICATE_KEY_SIZE = env.int("XERO_CERTIFICATE_KEY_SIZE", default=2048)
XERO_CERTIFICATE_DAYS = env.int("XERO_CERTIFICATE_DAYS", default=5 * 365, between=DAYS_BOUNDS)
# How long a certificate retired by a newer one can be made active again: the way back when
# the new one was made active by hand before the customer had pasted it into Xero.
XERO_CERTIFICATE_REACTIVATION_HOURS = env.int(
    "XERO_CERTIFICATE_REACTIVATION_HOURS", default=72, between=(0, A_YEAR // 3600)
)

# Xero's addresses. Nothing else in the code names Xero's hosts; tests and the sandbox
# (`manage.py xero_sandbox`) point these at a local fake Xero.
XERO_API_URL = env.str("XERO_API_URL", default="https://api.xero.com/api.xro/2.0/")
XERO_PAYROLL_URL = env.str("XERO_PAYROLL_URL", default="https://api.xero.com/payroll.xro/1.0/")
XERO_IDENTITY_URL = env.str("XERO_IDENTITY_URL", default="https://identity.xero.com/connect/token")
XERO_CONNECTIONS_URL = env.str("XERO_CONNECTIONS_URL", default="https://api.xero.com/connections")
# "Connect to Xero" (the web app connection type): where the browser signs in and consents,
# and where a token set is revoked when no Site uses it any more.
XERO_AUTHORIZE_URL = env.str(
    "XERO_AUTHORIZE_URL", default="https://login.xero.com/identity/connect/authorize"
)
XERO_REVOCATION_URL = env.str(
    "XERO_REVOCATION_URL", default="https://identity.xero.com/connect/revocation"
)
# The id_token of a "Connect to Xero" consent is checked (OpenID Connect Core 3.1.3.7,
# docs/oauth.md): signed by a key Xero publishes here, issued by this issuer.
XERO_JWKS_URL = env.str(
    "XERO_JWKS_URL", default="https://identity.xero.com/.well-known/openid-configuration/jwks"
)
XERO_ISSUER = env.str("XERO_ISSUER", default="https://identity.xero.com")
# The Warehouse's own Xero app (developer.xero.com, integration type "Web app"), whose
# redirect URI is https://<this host>/xero/callback/. The secret comes from the
# environment only: it is Imagatec's, not a customer's, and never stored in the database.
XERO_APP_CLIENT_ID = env.str("XERO_APP_CLIENT_ID", default="")
XERO_APP_CLIENT_SECRET = env.str("XERO_APP_CLIENT_SECRET", default="")
# Seconds. A whole connection test never takes longer than the two together.
XERO_CONNECT_TIMEOUT = env.float("XERO_CONNECT_TIMEOUT", default=5.0)
XERO_READ_TIMEOUT = env.float("XERO_READ_TIMEOUT", default=15.0)
# Seconds Xero may go on answering a call the Warehouse gave up on (timed out): its slots of
# Xero's limits stay taken that long, since Xero still counts the call (xero/limits.py).
XERO_ABANDONED_CALL_SECONDS = env.float(
    "XERO_ABANDONED_CALL_SECONDS", default=60.0, between=(0, 3600)
)
# The largest answer of Xero's the Warehouse reads, after decompression: its answers to a
# connection test are a few KiB, and a fleet check runs many tests side by side.
XERO_MAX_ANSWER_BYTES = env.int("XERO_MAX_ANSWER_BYTES", default=1 << 20, between=(1024, 1 << 30))
# Seconds between two tests of one Site, so double clicks do not spend Xero's call budget.
XERO_TEST_COOLDOWN = env.int("XERO_TEST_COOLDOWN", default=5, between=(0, 86_400))
# A Xero incident: at least XERO_INCIDENT_SITES Sites whose latest test, within the last
# XERO_INCIDENT_WINDOW seconds, failed the way an outage of Xero's does (unavailable, timed
# out, 5xx). One alert for all of them instead of one per Site (docs/fleet-health.md).
XERO_INCIDENT_SITES = env.int("XERO_INCIDENT_SITES", default=10, between=(1, 1_000_000))
XERO_INCIDENT_WINDOW = env.int("XERO_INCIDENT_WINDOW", default=900, between=(1, A_YEAR))
# A Site failing with the same non-transient outcome (reconnect needed, invalid client, …)
# at this many checks in a row is tested daily, not hourly, until someone acts: hourly
# tests of a link only a person can mend spend Xero's calls and nobody's attention.
XERO_CIRCUIT_BREAKER_CHECKS = env.int(
    "XERO_CIRCUIT_BREAKER_CHECKS", default=5, between=(1, 1_000_000)
)
XERO_CIRCUIT_BREAKER_RETRY = env.int(
    "XERO_CIRCUIT_BREAKER_RETRY", default=86_400, between=(1, A_YEAR)
)
# The fleet check skips a Site whose last answer from Xero left fewer calls than this for
# the day (Xero: 5,000 a day per organisation, 1,000 on the Starter tier), so that checks
# never starve the Interconnect, which needs them for the customer's actual work.
XERO_DAY_CALLS_RESERVE = env.int("XERO_DAY_CALLS_RESERVE", default=200, between=(0, 5000))
# The Warehouse's Xero app's pricing tier, which caps its connected organisations
# (xero/tiers.py): starter, core, plus, advanced or enterprise.
XERO_APP_TIER = env.str("XERO_APP_TIER", default="starter")
# The scopes a Custom Connection asks for; payroll ones are added for Sites with payroll.
XERO_SCOPES = env.list("XERO_SCOPES", default=["accounting.settings.read"])
XERO_PAYROLL_SCOPES = env.list(
    "XERO_PAYROLL_SCOPES", default=["payroll.settings.read", "payroll.employees.read"]
)

# Background tasks (Django's Tasks API, the django-tasks backport). The default keeps
# tasks in the database and runs them with `manage.py db_worker`; a larger deployment
# sets TASKS_BACKEND=django_tasks_rq.RQBackend and REDIS_URL (docs/fleet-health.md).
TASKS_BACKEND = env.choice(
    "TASKS_BACKEND",
    default="django_tasks_db.DatabaseBackend",
    choices=("django_tasks_db.DatabaseBackend", "django_tasks_rq.RQBackend"),
)
TASKS: dict[str, dict[str, Any]] = {"default": {"BACKEND": TASKS_BACKEND, "QUEUES": ["default"]}}
if TASKS_BACKEND.startswith("django_tasks_db."):
    INSTALLED_APPS.append("django_tasks_db")
elif TASKS_BACKEND.startswith("django_tasks_rq."):
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    # Without a time-out a frozen Redis (a paused VM) would hang every enqueue for good; an
    # enqueue that times out is reported "not confirmed", never as refused (xero/tasks.py).
    # A socket_timeout in REDIS_URL itself wins. RQ's workers raise their own to outlast
    # their wait for a job.
    REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=5.0, between=(0.001, 3600))
    _redis_url = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
    if "socket_timeout=" not in _redis_url:
        _redis_url += f"{'&' if '?' in _redis_url else '?'}socket_timeout={REDIS_SOCKET_TIMEOUT}"
    RQ_QUEUES = {"default": {"URL": _redis_url}}
    # RQ's worker with the fleet's sweep, outliving Redis errors (operations/rq_worker.py),
    # for `manage.py rqworker` as it is.
    RQ = {"WORKER_CLASS": "operations.rq_worker.FleetWorker"}

# At most this many calls to Xero in flight at once, over every Site and process.
XERO_MAX_CONCURRENT_CALLS = env.int("XERO_MAX_CONCURRENT_CALLS", default=20, between=(1, 1000))
# A bulk check waits out Xero's rate limits at most this many times per call.
XERO_RATE_LIMIT_RETRIES = env.int("XERO_RATE_LIMIT_RETRIES", default=5, between=(0, 100))
# A queued check whose task never started after this many seconds may be queued again.
XERO_CHECK_QUEUE_TIMEOUT = env.int("XERO_CHECK_QUEUE_TIMEOUT", default=3600, between=(1, A_YEAR))
# /readyz (docs/production.md): a db_worker writes its heartbeat every
# WORKER_HEARTBEAT_INTERVAL seconds; readiness wants one within WORKER_HEARTBEAT_WINDOW, and
# the oldest queued check younger than READY_OLDEST_QUEUED_CHECK seconds.
WORKER_HEARTBEAT_INTERVAL = env.float(
    "WORKER_HEARTBEAT_INTERVAL", default=15.0, between=(0.1, 3600)
)
WORKER_HEARTBEAT_WINDOW = env.float("WORKER_HEARTBEAT_WINDOW", default=60.0, between=(0.1, A_YEAR))
READY_OLDEST_QUEUED_CHECK = env.int(
    "READY_OLDEST_QUEUED_CHECK", default=XERO_CHECK_QUEUE_TIMEOUT, between=(1, A_YEAR)
)
# /metrics (docs/production.md) answers only with `Authorization: Bearer $METRICS_TOKEN`;
# without a token set it answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# A batch is split into tasks of this many Sites, so that every worker can take a share.
XERO_CHECK_CHUNK_SIZE = env.int("XERO_CHECK_CHUNK_SIZE", default=50, between=(1, 10_000))
# Seconds a worker's hold on its chunk lasts unless renewed (it renews every third of it):
# a chunk whose worker died is queued again this long after its last renewal.
XERO_CHECK_LEASE = env.float("XERO_CHECK_LEASE", default=30.0, between=(1, 86_400))
# Calls to Xero ignore the HTTP(S)_PROXY environment (looking it up costs every request);
# set this (e.g. http://proxy.example.com:3128) when they must go through a proxy.
XERO_HTTP_PROXY = env.str("XERO_HTTP_PROXY", default="")

# Mail (docs/operating.md, "Mail"). Every email (invitations, alerts, notices) goes through
# the outbox (outbox/services.py): send_mail stores a row, a task sends it through
# OUTBOX_EMAIL_BACKEND and retries with back-off, so a request never fails because the
# mail server is down. The real transport: SMTP; in development files in var/mail/ (never
# the console, which would write invitation links to the server's log).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="outbox.backends.OutboxBackend")
OUTBOX_EMAIL_BACKEND = env.str(
    "OUTBOX_EMAIL_BACKEND",
    default="django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=BASE_DIR / "var" / "mail")
# An email is tried this many times, the first retry this many seconds after the first
# try and each next one twice as long after (at most 2 hours), before it is marked failed.
OUTBOX_MAX_TRIES = env.int("OUTBOX_MAX_TRIES", default=8, between=(1, 100))
OUTBOX_FIRST_RETRY_SECONDS = env.float(
    "OUTBOX_FIRST_RETRY_SECONDS", default=60.0, between=(0, 86_400)
)
# Days sent and failed emails are kept (`manage.py outbox_send --prune`, daily).
OUTBOX_KEEP_SENT_DAYS = env.int("OUTBOX_KEEP_SENT_DAYS", default=30, between=DAYS_BOUNDS)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25, between=PORT_BOUNDS)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Seconds one try may wait for the mail server (it runs in a worker, never in a request).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0, between=(0.001, 3600))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="warehouse@localhost")

# Customers' invitations: a link works once, for this many days.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7, between=DAYS_BOUNDS)
# At most this many invitations an hour per inviter, so the invite form cannot send spam.
INVITATIONS_PER_HOUR = env.int("INVITATIONS_PER_HOUR", default=10, between=(0, 1_000_000))
# The development server's port (`make run PORT=8001`, which passes it on): the default
# WAREHOUSE_URL follows it, and with it the sandbox's redirect URI (`xero_sandbox`).
PORT = env.int("PORT", default=8000, between=PORT_BOUNDS)
# The Warehouse's address as customers reach it, for the links `site_invite` prints (the
# invite form uses the address of the request it came in on).
WAREHOUSE_URL = env.str("WAREHOUSE_URL", default=f"http://127.0.0.1:{PORT}")

# Passkeys (django-otp-webauthn; docs/security.md, "Passkeys"): a passkey belongs to one
# relying party, a domain, and the browser signs only for pages of it. Both come from
# WAREHOUSE_URL unless set: its host is the relying party, its origin the one page address a
# signature is accepted from. Browsers take no IP address as a relying party, and treat
# http://localhost as secure: a loopback WAREHOUSE_URL (development) means localhost, so
# open the Warehouse at http://localhost:8000 to use passkeys there.
_warehouse_address = urlsplit(WAREHOUSE_URL)
_passkey_host = _warehouse_address.hostname or "localhost"
if _passkey_host in {"127.0.0.1", "::1"}:
    _passkey_host = "localhost"
_passkey_origin = f"{_warehouse_address.scheme}://{_passkey_host}" + (
    f":{_warehouse_address.port}" if _warehouse_address.port else ""
)
OTP_WEBAUTHN_RP_ID = env.str("OTP_WEBAUTHN_RP_ID", default=_passkey_host)
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list("OTP_WEBAUTHN_ALLOWED_ORIGINS", default=[_passkey_origin])
# The name a browser shows when it asks for the passkey.
OTP_WEBAUTHN_RP_NAME = env.str("OTP_WEBAUTHN_RP_NAME", default=OTP_TOTP_ISSUER)
# A second factor only: the password always comes first.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
# Our session and helper: the ceremonies run behind the admin's gate (accounts/passkeys.py).
OTP_WEBAUTHN_HELPER_CLASS = "accounts.passkeys.PasskeyHelper"
# The audit trail (sites/audit.py): django-auditlog writes into our own table.
AUDITLOG_LOGENTRY_MODEL = "sites.AuditEntry"
# django-auditlog's migrations only make its own log table, which sites.AuditEntry replaces;
# run, they would leave an unused table whose foreign key blocks PostgreSQL's flush.
MIGRATION_MODULES = {"auditlog": None}
# Days an audit row is kept before `manage.py prune_audit_trail` may delete it (7 years);
# the database triggers refuse to delete anything younger than a year whatever this says.
# Connection tests and finished task rows older than this are deleted by
# `manage.py xero_prune_history` (each Site's newest test, verdict and pass are kept).
XERO_HISTORY_RETENTION_DAYS = env.int(
    "XERO_HISTORY_RETENTION_DAYS", default=180, between=DAYS_BOUNDS
)
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=7 * 365 + 2, between=DAYS_BOUNDS)

# The Interconnect API (api/, docs/api.md).
# Requests one API credential may make in a minute; past it the API answers 429 with Retry-After.
API_RATE_LIMIT_PER_MINUTE = env.int(
    "API_RATE_LIMIT_PER_MINUTE", default=600, between=(1, 1_000_000)
)
# Days a new API credential lasts unless `api_credential_create --days` says otherwise.
API_CREDENTIAL_DAYS = env.int("API_CREDENTIAL_DAYS", default=365, between=DAYS_BOUNDS)
# The largest request body the API reads; its requests are a few hundred bytes.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=16_384, between=(1024, 1 << 24))
# Seconds an access token handed out must still have to live; else it is refreshed first.
API_ACCESS_TOKEN_MARGIN = env.int("API_ACCESS_TOKEN_MARGIN", default=300, between=(0, 1500))
# Outgoing webhooks: a failed delivery is retried with exponential back-off for this many
# seconds (a day), and an endpoint whose deliveries failed this many times in a row is paused.
API_WEBHOOK_RETRY_SECONDS = env.int(
    "API_WEBHOOK_RETRY_SECONDS", default=86_400, between=(1, A_YEAR)
)
API_WEBHOOK_PAUSE_AFTER = env.int("API_WEBHOOK_PAUSE_AFTER", default=20, between=(1, 1_000_000))
# Seconds before the first retry of a failed delivery; each next one waits twice as long.
API_WEBHOOK_FIRST_RETRY_SECONDS = env.float(
    "API_WEBHOOK_FIRST_RETRY_SECONDS", default=60.0, between=(0, 86_400)
)
# Seconds a webhook receiver has to answer one delivery.
API_WEBHOOK_TIMEOUT = env.float("API_WEBHOOK_TIMEOUT", default=5.0, between=(0.001, 600))
