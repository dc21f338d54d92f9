import datetime
import functools
from typing import cast

from django.conf import settings
from django.db import connections, models, router
from django.db.models import Q
from django.utils import timezone

from sites.fields import EncryptedTextField, done_by
from sites.models import Site

from . import exceptions, values

EXPIRY_WARNING_DAYS = 60


class CertificateQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state=Certificate.State.ACTIVE)

    def pending(self):
        return self.filter(state=Certificate.State.PENDING)

    def current(self):
        """The certificates a Site may sign with, in the order to use them.

        The one rule for which certificate signs and which the customer pastes: the pending
        one first (it is being rolled out, and a pass with it makes it active), then the
        active one; ``Certificate.CURRENT_ORDER`` says it, and ``current_order`` sorts
        certificates already loaded the same way.
        """
        first = models.Case(
            *(
                models.When(state=state, then=models.Value(rank))
                for rank, state in enumerate(Certificate.CURRENT_ORDER)
            ),
            output_field=models.IntegerField(),
        )
        return self.filter(state__in=Certificate.CURRENT_ORDER).order_by(first, "-issued_at", "-pk")

    def to_paste(self) -> "Certificate | None":
        """The certificate the customer pastes into Xero: the first current one."""
        return self.current().first()


class Certificate(models.Model):
    """An X509 certificate issued for a Site; its private key never leaves the server."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING = "pending", "Pending (waiting for a passing connection test)"
        RETIRED = "retired", "Retired"

    # Which certificates sign and in what order (``CertificateQuerySet.current``).
    CURRENT_ORDER = (State.PENDING, State.ACTIVE)

    # Deleting a Site deletes its certificates and their private keys (crypto-shredding);
    # the audit trail keeps what happened to them.
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="certificates")
    state = models.CharField(max_length=16, choices=State.choices)
    certificate_pem = models.TextField("public certificate (PEM)")
    private_key_pem = EncryptedTextField("private key (PEM)")
    serial_number = models.CharField(max_length=64, help_text="Hexadecimal.")
    key_size = models.PositiveIntegerField()
    fingerprint_sha1 = models.CharField("SHA-1 fingerprint", max_length=59)
    fingerprint_sha256 = models.CharField("SHA-256 fingerprint", max_length=95)
    not_valid_before = models.DateTimeField()
    not_valid_after = models.DateTimeField()
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = done_by()
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        indexes = [
            # /metrics asks for the soonest expiry of an active certificate at every scrape:
            # without it, a scan of every certificate with its private key (86 ms at 10,000).
            models.Index(fields=["state", "not_valid_after"], name="certificate_state_expiry"),
        ]
        permissions = [
            ("issue_certificate", "Can issue and promote a Site's Xero certificate"),
            ("download_certificate", "Can download a Site's public certificate"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(state="active"),
                name="certificate_one_active_per_site",
                violation_error_message="A Site can have only one active certificate.",
            ),
            models.UniqueConstraint(
                fields=["site"],
                condition=Q(state="pending"),
                name="certificate_one_pending_per_site",
                violation_error_message="A Site can have only one pending certificate.",
            ),
        ]

    def __str__(self):
        return f"{self.site.code} certificate {self.serial_number[:8]}… ({self.state})"

    @classmethod
    def current_order(cls, certificates) -> list["Certificate"]:
        """``certificates`` (already loaded) that are current, in ``current()``'s order."""
        current = [c for c in certificates if c.state in cls.CURRENT_ORDER]
        current.sort(key=lambda c: (c.issued_at, c.pk), reverse=True)
        current.sort(key=lambda c: cls.CURRENT_ORDER.index(c.state))
        return current

    @property
    def download_filename(self) -> str:
        """e.g. 'acme-pending-3f9a1c-publickey.cer': the state and the serial's last digits
        tell a rotation's two certificates apart in a Downloads folder."""
        return f"{self.site.code}-{self.state}-{self.serial_number[-6:].lower()}-publickey.cer"

    @property
    def serial_end(self) -> str:
        """The serial's last six digits, as the download's name and the test results show."""
        return self.serial_number[-6:].upper()

    @property
    def short_label(self) -> str:
        """e.g. 'the pending certificate …3F9A1C': which certificate, in a sentence."""
        return f"the {self.state} certificate …{self.serial_end}"

    def reactivatable_until(self) -> datetime.datetime | None:
        """Until when this certificate, retired by a newer one after being active, can be
        made active again (``XERO_CERTIFICATE_REACTIVATION_HOURS``), or None."""
        if self.state != self.State.RETIRED or self.activated_at is None or self.retired_at is None:
            return None
        return self.retired_at + datetime.timedelta(
            hours=settings.XERO_CERTIFICATE_REACTIVATION_HOURS
        )

    def can_be_reactivated(self, now: datetime.datetime | None = None) -> bool:
        until = self.reactivatable_until()
        now = now or timezone.now()
        return until is not None and now < until and now < self.not_valid_after

    def days_to_expiry(self, now: datetime.datetime | None = None) -> int:
        return (self.not_valid_after - (now or timezone.now())).days

    def is_expiring(self, now: datetime.datetime | None = None) -> bool:
        return self.days_to_expiry(now) < EXPIRY_WARNING_DAYS


class CertificateEvent(models.Model):
    """Who did what to which certificate, and when."""

    class Action(models.TextChoices):
        ISSUED = "issued", "Issued"
        DOWNLOADED = "downloaded", "Downloaded"
        ACTIVATED = "activated", "Activated"
        RETIRED = "retired", "Retired"
        PENDING_AGAIN = "pending_again", "Pending again"

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    user = done_by()
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


class AccessToken(models.Model):
    """A Custom Connection's current OAuth 2.0 access token, reused until it expires."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="xero_access_token")
    access_token = EncryptedTextField()
    expires_at = models.DateTimeField()
    credentials_digest = models.CharField(
        max_length=64, help_text="HMAC of the Client ID and Secret the token was issued to."
    )

    def __str__(self):
        return f"{self.site.code} access token (expires {self.expires_at:%Y-%m-%d %H:%M})"


class _OutcomeChoices(models.TextChoices):
    """What an outcome means on every page and in the alerts (the members are built below).

    One rule decides "failing": a recorded outcome that is neither a pass nor one of
    ``NOT_A_VERDICT``, which say nothing about the Site's settings.
    """

    # The members the code names (declared for the type checker; the enum's members,
    # these and one per failure, are built from ``_outcome_members``).
    OK: str
    RUNNING: str
    INTERRUPTED: str
    INTERNAL_ERROR: str
    SKIPPED: str
    COOLDOWN: str
    RATE_LIMITED: str
    WAREHOUSE_BUSY: str
    NOT_CONNECTED: str
    WAREHOUSE_STALLED: str
    WAREHOUSE_STORAGE_FAILED: str

    @classmethod
    def not_a_verdict(cls) -> list[str]:
        # Still running, cut short, not run, Xero asking us to slow down, or our own
        # database too busy (or our own process too stalled) to ask Xero anything.
        return [
            cls.RUNNING,
            cls.INTERRUPTED,
            cls.SKIPPED,
            cls.COOLDOWN,
            cls.RATE_LIMITED,
            cls.WAREHOUSE_BUSY,
            cls.WAREHOUSE_STALLED,
            cls.WAREHOUSE_STORAGE_FAILED,
        ]

    @classmethod
    def not_failing(cls) -> list[str]:
        return [cls.OK, *cls.not_a_verdict()]

    @classmethod
    def is_failing(cls, value: str) -> bool:
        return value not in cls.not_failing()

    @classmethod
    def tone_of(cls, value: str) -> str:
        """``ok``, ``failed`` or ``neutral``: the colour (CSS class ``xero-<tone>``)."""
        if value == cls.OK:
            return "ok"
        return "failed" if cls.is_failing(value) else "neutral"

    @classmethod
    def icon_of(cls, value: str) -> str:
        return {"ok": "✓", "failed": "✗", "neutral": ""}[cls.tone_of(value)]

    @classmethod
    def label_of(cls, value: str) -> str:
        """The outcome's label; a code no longer known reads as itself."""
        return cls(value).label if value in cls.values else value


def _outcome_members():
    # The outcomes no exception names, then one per failure in ``xero.exceptions``.
    members = {
        "ok": "Passed",
        "running": "Running…",
        "interrupted": "Interrupted",
        "internal_error": "Fault in the Warehouse",
        "skipped": "Skipped",
    }
    for failure in exceptions.connection_test_failures():
        members.setdefault(failure.code, failure.label)
    return [(code.upper(), (code, label)) for code, label in members.items()]


# How long past its budget a test's row may say "running" before it is taken for dead
# (its process killed): a test ends at its deadline, and a fleet check's waits for Xero's
# rate limits (at most a minute at a time) stretch that deadline.
INTERRUPTED_MARGIN = datetime.timedelta(seconds=60)


SAFE_FIELD_TYPES = (models.BooleanField, models.IntegerField, models.CharField, models.TextField)


@functools.cache
def _update_all_sql(model, using: str) -> str:
    """``UPDATE`` of every column of one ``model`` row by its primary key, as text."""
    quote = connections[using].ops.quote_name
    columns = ", ".join(
        f"{quote(field.column)} = %s"
        for field in model._meta.concrete_fields
        if not field.primary_key
    )
    return (
        f"UPDATE {quote(model._meta.db_table)} SET {columns} "  # noqa: S608 - quoted names only
        f"WHERE {quote(model._meta.pk.column)} = %s"
    )


# Rows a statement of ``start_running`` inserts at most: SQLite takes 32,766 values in one.
START_RUNNING_BATCH = 500


class ConnectionTestQuerySet(models.QuerySet):
    def start_running(self, sites, *, now: datetime.datetime) -> list["ConnectionTest"]:
        """Insert a running row for each of ``sites``, started ``now``; the rows, saved.

        As ``bulk_create`` does, but preparing the columns' values once: the rows differ
        only in their Site and connection type, and a fleet chunk's ``bulk_create`` spent
        more on preparing every field of every row than the database on the insert.
        """
        model = cast(type["ConnectionTest"], self.model)
        rows = [
            model(site=site, started_at=now, connection_type=site.connection_type) for site in sites
        ]
        if not rows:
            return rows
        connection = connections[self.db]
        quote = connection.ops.quote_name
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        varying = {"site_id", "connection_type"}
        prepared = [
            field.get_db_prep_save(field.pre_save(rows[0], True), connection) for field in fields
        ]
        columns = ", ".join(quote(field.column) for field in fields)
        row_marks = f"({', '.join(['%s'] * len(fields))})"
        for start in range(0, len(rows), START_RUNNING_BATCH):
            batch = rows[start : start + START_RUNNING_BATCH]
            params = [
                getattr(row, field.attname) if field.attname in varying else value
                for row in batch
                for field, value in zip(fields, prepared, strict=True)
            ]
            insert = (
                f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - quoted names only
                f"VALUES {', '.join([row_marks] * len(batch))} "
                f"RETURNING {quote(model._meta.pk.column)}"
            )
            with connection.cursor() as cursor:
                cursor.execute(insert, params)
                ids = [pk for (pk,) in cursor.fetchall()]
            for row, pk in zip(batch, ids, strict=True):
                row.pk = pk
                row._state.adding, row._state.db = False, self.db
        return rows

    def stale(self, *, now: datetime.datetime | None = None):
        """Rows still running long after their test's deadline: their process died."""
        budget = datetime.timedelta(
            seconds=settings.XERO_CONNECT_TIMEOUT + settings.XERO_READ_TIMEOUT
        )
        horizon = (now or timezone.now()) - budget - INTERRUPTED_MARGIN
        return self.filter(outcome=ConnectionTest.Outcome.RUNNING, started_at__lt=horizon)


class ConnectionTest(models.Model):
    """One run of "Test connection" for a Site: what was tried and what Xero said."""

    # Enum's functional API makes a class; typeshed's overloads read the call as a lookup.
    Outcome = cast(type[_OutcomeChoices], _OutcomeChoices("Outcome", _outcome_members()))
    INTERRUPTED_MESSAGE = (
        "The test stopped before it finished: the Warehouse process running it ended "
        "(a restart or a crash). Nothing is known about the Site's settings; test again."
    )

    class PayrollOutcome(models.TextChoices):
        OK = "ok", "Payroll OK"
        NOT_ENABLED = "not_enabled", "Payroll not enabled"
        FAILED = "failed", "Payroll check failed"
        SKIPPED = "skipped", "Payroll not asked for"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="connection_tests")
    run_by = done_by()
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    connection_type = models.CharField(max_length=32, choices=Site.ConnectionType.choices)
    certificate = models.ForeignKey(
        Certificate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=40, choices=Outcome.choices, default=Outcome.RUNNING)
    message = models.TextField(blank=True)
    step = models.CharField(max_length=40, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    problem = models.CharField("Xero's words", max_length=exceptions.PROBLEM_LENGTH, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    organisation_name = models.CharField(max_length=255, blank=True)
    organisation_short_code = models.CharField(max_length=32, blank=True)
    organisation_country = models.CharField(max_length=8, blank=True)
    organisation_version = models.CharField(max_length=16, blank=True)
    organisation_type = models.CharField(max_length=32, blank=True)
    is_demo_company = models.BooleanField(null=True)
    payroll_outcome = models.CharField(
        max_length=16, choices=PayrollOutcome.choices, default=PayrollOutcome.SKIPPED
    )
    payroll_message = models.TextField(blank=True)
    minute_limit_remaining = models.IntegerField(null=True, blank=True)
    day_limit_remaining = models.IntegerField(null=True, blank=True)

    objects = ConnectionTestQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        permissions = [("run_connection_test", "Can run a Site's Xero connection test")]
        indexes = [
            models.Index(fields=["site", "-started_at"], name="connectiontest_site_latest"),
            # The sweep for stale rows (``stale()``) runs at every health page and test: it
            # reads the few running rows, not the whole history.
            models.Index(
                fields=["started_at"],
                condition=models.Q(outcome="running"),
                name="connectiontest_running",
            ),
        ]

    def __str__(self):
        return f"{self.site.code} test {self.started_at:%Y-%m-%d %H:%M}: {self.outcome}"

    @property
    def passed(self) -> bool:
        return self.outcome == self.Outcome.OK

    @property
    def failing(self) -> bool:
        return self.Outcome.is_failing(self.outcome)

    def save_result(self) -> None:
        """Save every field of this existing row, as ``save()`` does, at a third of its CPU.

        A fleet check saves one result per Site, and ``save()`` compiles its UPDATE anew
        each time, which costs more than the database's work. Here the statement's text
        is built once per database and only the values change; the fields' own
        ``pre_save`` and ``get_db_prep_save`` make the values, and ``pre_save`` and
        ``post_save`` are sent as ``save()`` sends them (the API's stamp and events listen).
        A row that is gone is left to ``save()``, which inserts it as it always did (its
        receivers then hear ``pre_save`` twice; none listens to it), and so is a new row or
        one read with deferred fields, which ``save()`` writes only in part.
        """
        using = router.db_for_write(type(self), instance=self)
        if self.pk is None or self.get_deferred_fields():
            self.save(using=using)
            return
        connection = connections[using]
        fields = [field for field in self._meta.concrete_fields if not field.primary_key]
        models.signals.pre_save.send(
            sender=type(self), instance=self, raw=False, using=using, update_fields=None
        )
        params = [
            field.get_db_prep_save(field.pre_save(self, False), connection) for field in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(_update_all_sql(type(self), using), [*params, self.pk])
            updated = cursor.rowcount
        if updated != 1:
            self.save(using=using)
            return
        self._state.adding, self._state.db = False, using
        models.signals.post_save.send(
            sender=type(self),
            instance=self,
            created=False,
            update_fields=None,
            raw=False,
            using=using,
        )

    def make_safe_to_save(self) -> None:
        """Fit every text, boolean and integer field to its column (``xero.values``).

        Much of a test's row comes from Xero's answer; nothing in it may make the save
        fail, or the row would stay running.
        """
        for field in self._meta.concrete_fields:
            if field.primary_key or field.is_relation:
                continue
            if isinstance(field, SAFE_FIELD_TYPES):
                setattr(self, field.attname, values.for_field(field, getattr(self, field.attname)))

    @property
    def outcome_label(self) -> str:
        return self.Outcome.label_of(self.outcome)

    @property
    def outcome_tone(self) -> str:
        return self.Outcome.tone_of(self.outcome)

    @property
    def running(self) -> bool:
        return self.outcome == self.Outcome.RUNNING

    def as_dict(self) -> dict:
        """The fields `xero_test_connection --json` prints; never a secret or a token."""
        return {
            "site": self.site.code,
            "passed": self.passed,
            "outcome": self.outcome,
            "message": self.message,
            "step": self.step or None,
            "connection_type": self.connection_type,
            "started_at": self.started_at.isoformat(),
            "http_status": self.http_status,
            "problem": self.problem,
            "latency_ms": self.latency_ms,
            "organisation": {
                "name": self.organisation_name,
                "short_code": self.organisation_short_code,
                "country_code": self.organisation_country,
                "version": self.organisation_version,
                "type": self.organisation_type,
                "is_demo_company": self.is_demo_company,
            }
            if self.organisation_name
            else None,
            "payroll": {"outcome": self.payroll_outcome, "message": self.payroll_message},
            "rate_limits": {
                "minute_remaining": self.minute_limit_remaining,
                "day_remaining": self.day_limit_remaining,
            },
            "certificate_sha1": self.certificate.fingerprint_sha1 if self.certificate else None,
        }


class SitePause(models.Model):
    """Staff paused a Site's background checks and alerts (a customer who left, a Site
    closed for the season), with the reason; resuming deletes the row (``pausing.py``)."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="xero_pause")
    reason = models.CharField(max_length=200)
    paused_by = done_by()
    paused_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.site.code} paused: {self.reason}"


class CircuitBreaker(models.Model):
    """A Site that failed with the same non-transient outcome at the last
    ``XERO_CIRCUIT_BREAKER_CHECKS`` checks: tested daily, not hourly, until someone acts
    (``pausing.py``); deleted by its next pass or by a change made to the Site."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="xero_circuit")
    outcome = models.CharField(max_length=40)
    opened_at = models.DateTimeField(default=timezone.now)
    next_check_at = models.DateTimeField()

    def __str__(self):
        return f"{self.site.code} tested daily after {self.outcome}"


class UnboundConnection(models.Model):
    """An organisation connected to the Warehouse's Xero app that no Site uses (a consent
    ticked several and one was chosen): it still counts against the tier's cap
    (``xero/tiers.py``), so it is listed with *Disconnect*."""

    token_set = models.ForeignKey("TokenSet", on_delete=models.CASCADE, related_name="unbound")
    tenant_id = models.CharField(max_length=64, unique=True)
    tenant_name = models.CharField(max_length=255, blank=True)
    connection_id = models.CharField(max_length=64)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tenant_name", "pk"]

    def __str__(self):
        return self.tenant_name or self.tenant_id


class AppNotice(models.Model):
    """A warning about the Warehouse's Xero app told once (the tier nearly full, the
    certification line crossed), keyed by what it is about."""

    key = models.CharField(max_length=80, unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.key


class QueuedCheckManager(models.Manager):
    def delete_held(self, *, site_id: int, worker: str, now: datetime.datetime) -> int:
        """Delete ``site_id``'s row if ``worker`` still holds its lease at ``now``; how
        many rows went (0 or 1).

        One statement compiled once: a fleet check runs it for every result it saves,
        and the queryset's ``delete()`` costs several times the statement itself. Nothing
        listens to a queue row's deletion and nothing refers to one, which is what lets the
        rows go without ``delete()``'s collector.
        """
        connection = connections[self.db]
        quote = connection.ops.quote_name
        delete = (
            f"DELETE FROM {quote(self.model._meta.db_table)} "  # noqa: S608 - quoted names only
            "WHERE site_id = %s AND worker = %s AND lease_until > %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(delete, [site_id, worker, connection.ops.adapt_datetimefield_value(now)])
            return cursor.rowcount


class QueuedCheck(models.Model):
    """A Site waiting for its background connection test, owned by one task (a chunk).

    At most one per Site (the primary key is the Site), so that enqueueing every Site while
    some are still waiting queues those once. A worker that starts the chunk takes a lease
    on its rows (``worker``, ``lease_until``) and renews it while the chunk runs; it deletes
    a row once that Site's result is recorded. A row whose lease lapsed belonged to a worker
    that died: ``xero/fleet.py`` queues it again in a new chunk.
    """

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, primary_key=True, related_name="queued_check"
    )
    batch = models.UUIDField(
        db_index=True, help_text="The run that queued it (one command, one click)."
    )
    chunk = models.UUIDField(db_index=True, help_text="The task that will run the check.")
    queued_at = models.DateTimeField(default=timezone.now)
    queued_by = done_by()
    worker = models.CharField(max_length=64, blank=True, help_text="Who holds the lease.")
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = QueuedCheckManager()

    def __str__(self):
        return f"check of site {self.site_id} queued {self.queued_at:%Y-%m-%d %H:%M}"


class Alert(models.Model):
    """An email about a Site, kept so that each transition is told once (the Admins' by
    ``fleet_alerts.py``, the customers' and the "works again" by ``link_alerts.py``)."""

    class Kind(models.TextChoices):
        FAILING = "failing", "Connection test failing after passing"
        EXPIRING = "expiring", "Certificate in its last days"
        DISCONNECTED = "disconnected", "Disconnected in Xero (told to the customers)"
        BROKEN = "broken", "Link broken (told to the customers)"
        RECOVERED = "recovered", "Link works again"
        INCIDENT = "incident", "Xero incident opened or over"
        CIRCUIT = "circuit", "Tested daily after failing the same way"
        TIER = "tier", "Xero app tier nearly full or past certification"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="xero_alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Which transition: the last passing test before the failure (or, for a Site that never
    # passed, ``never-passed``), or the expiring certificate.
    key = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    recipients = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind", "key"], name="alert_once_per_transition"
            )
        ]

    def __str__(self):
        return self.subject


class AlertPreference(models.Model):
    """How one person wants one kind of alert: at once, in the daily digest, or not at all.
    No row is the safe default, at once (``AlertPreference.delivery_for``)."""

    class Delivery(models.TextChoices):
        IMMEDIATELY = "immediately", "Immediately"
        DIGEST = "digest", "In a daily digest"
        OFF = "off", "Off"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="xero_alert_preferences"
    )
    kind = models.CharField(max_length=16, choices=Alert.Kind.choices)
    delivery = models.CharField(
        max_length=16, choices=Delivery.choices, default=Delivery.IMMEDIATELY
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="alert_preference_once")
        ]

    def __str__(self):
        return f"{self.user}: {self.kind} {self.delivery}"

    @classmethod
    def deliveries(cls, user_ids, kind: str) -> dict[int, str]:
        """Each user's delivery of ``kind`` (the default where they chose none)."""
        chosen = dict(
            cls.objects.filter(user_id__in=list(user_ids), kind=kind).values_list(
                "user_id", "delivery"
            )
        )
        return {pk: chosen.get(pk, cls.Delivery.IMMEDIATELY) for pk in user_ids}


class DigestEntry(models.Model):
    """An alert kept for someone's daily digest (``xero_alert_digest`` sends and deletes it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="xero_digest_entries"
    )
    # The Site's alert it tells; none for a Xero incident, which is about every Site.
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="digest_entries"
    )
    subject = models.CharField(max_length=255)
    body = models.TextField()
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["queued_at", "pk"]

    def __str__(self):
        return f"{self.user}: {self.subject}"


class XeroIncident(models.Model):
    """Many Sites failing as an outage of Xero's does, at once: one alert for all of them,
    per-Site alerts held while it lasts (``xero/incidents.py``)."""

    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # True until closed; unique while true, so two workers never open two incidents.
    open = models.BooleanField(default=True)
    sites_failing = models.PositiveIntegerField(
        default=0, help_text="The most Sites failing at once while it lasted."
    )
    outcomes = models.JSONField(default=dict, help_text="Outcome → Sites, when it opened.")

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            # At most one open incident, whatever workers race to open one.
            models.UniqueConstraint(
                fields=["open"], condition=models.Q(open=True), name="one_open_xero_incident"
            )
        ]

    def __str__(self):
        return f"Xero incident {self.opened_at:%Y-%m-%d %H:%M}"


class CallSlot(models.Model):
    """One slot of one of Xero's call limits, held until ``expires_at`` (xero/limits.py)."""

    key = models.CharField(max_length=120, primary_key=True)
    holder = models.CharField(max_length=64)
    expires_at = models.FloatField(help_text="Unix time.")

    def __str__(self):
        return self.key


# Xero's refresh tokens lapse when unused this long (developer.xero.com/faq/oauth2).
REFRESH_TOKEN_LIFETIME = datetime.timedelta(days=60)
# The health page flags a token set whose refresh token has less than this left.
REFRESH_TOKEN_WARNING = datetime.timedelta(days=14)


class TokenSetQuerySet(models.QuerySet):
    def needing_attention(self, now: datetime.datetime | None = None):
        """Token sets that failed their last refresh or whose refresh token nears expiry."""
        now = now or timezone.now()
        near = now - (REFRESH_TOKEN_LIFETIME - REFRESH_TOKEN_WARNING)
        return self.filter(Q(refresh_failure__gt="") | Q(refresh_token_issued_at__lt=near))


class TokenSet(models.Model):
    """One Xero user's consent to the Warehouse's Xero app ("Connect to Xero").

    The pair of tokens reaches every organisation that user connected, so several Sites
    may share one token set (a bookkeeper connecting many customers); each Site points at
    it through its ``TenantBinding``. Xero rotates the refresh token at every refresh:
    ``xero.web_app`` refreshes under a lock and stores the new pair before using it.
    """

    xero_user_id = models.CharField(
        "Xero user ID",
        max_length=64,
        unique=True,
        help_text="The Xero user who consented; a new consent of theirs replaces the tokens.",
    )
    xero_user_name = models.CharField("Xero user", max_length=255, blank=True)
    xero_user_email = models.CharField("Xero user's email", max_length=254, blank=True)
    connected_by = done_by()
    scopes = models.TextField(help_text="The scopes Xero granted, space-separated.")
    access_token = EncryptedTextField()
    access_token_expires_at = models.DateTimeField()
    refresh_token = EncryptedTextField()
    refresh_token_issued_at = models.DateTimeField(
        help_text="Xero's 60 days without a refresh count from here."
    )
    connected_at = models.DateTimeField(default=timezone.now)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_failed_at = models.DateTimeField(null=True, blank=True)
    refresh_failure = models.CharField(
        max_length=40, blank=True, help_text="The outcome code of the last failed refresh."
    )
    # The refresh guard on SQLite (xero.web_app.refresh_guard): who refreshes this token
    # set now, until when. Claimed and released in short writes of their own, so that no
    # write lock is held across the call to Xero; PostgreSQL uses an advisory lock instead.
    refresh_lease_holder = models.CharField(max_length=32, blank=True, editable=False)
    refresh_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TokenSetQuerySet.as_manager()

    class Meta:
        ordering = ["-connected_at", "-pk"]
        permissions = [
            ("connect_xero", "Can connect a Site to Xero (Connect to Xero)"),
            ("disconnect_xero", "Can disconnect a Site from Xero"),
        ]

    def __str__(self):
        who = self.xero_user_name or self.xero_user_email or self.xero_user_id
        return f"Xero token set of {who}"

    @property
    def connected_by_text(self) -> str:
        """The Xero user who connected, as a page names them: 'Bea Keeper (bea@…)'."""
        if self.xero_user_name and self.xero_user_email:
            return f"{self.xero_user_name} ({self.xero_user_email})"
        return self.xero_user_name or self.xero_user_email or "an unnamed Xero user"

    @property
    def reconnect_note(self) -> str:
        """What the setup page says when Xero refused this token set's refresh, else ''."""
        if self.refresh_failure == exceptions.ReconnectNeeded.code:
            return exceptions.ReconnectNeeded.message
        return ""

    @property
    def refresh_token_expires_at(self) -> datetime.datetime:
        return self.refresh_token_issued_at + REFRESH_TOKEN_LIFETIME

    def access_token_usable(self, now: datetime.datetime, margin: datetime.timedelta) -> bool:
        return bool(self.access_token) and self.access_token_expires_at > now + margin


class ReplacedToken(models.Model):
    """A refresh token of an earlier consent, replaced by a new consent of the same Xero
    user and waiting to be revoked at Xero (RFC 7009) by ``connect.replaced_tokens_revoke``.

    Written in the same transaction that stores the new pair, so the old token is never
    forgotten before it is revoked and the new pair never waits for Xero's answer; a
    failed revocation is tried again by the ``revoke_replaced_tokens`` task.
    """

    refresh_token = EncryptedTextField()
    xero_user_id = models.CharField("Xero user ID", max_length=64)
    replaced_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_failure = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["next_attempt_at", "pk"]

    def __str__(self):
        return f"Replaced refresh token of Xero user {self.xero_user_id}"


class TenantBinding(models.Model):
    """Which Xero organisation (tenant) a "Connect to Xero" Site reaches, with which tokens."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="xero_tenant")
    token_set = models.ForeignKey(TokenSet, on_delete=models.PROTECT, related_name="bindings")
    tenant_id = models.CharField(
        "Xero tenant ID",
        max_length=64,
        unique=True,
        error_messages={"unique": "This Xero organisation is already connected to another Site."},
    )
    tenant_name = models.CharField("Xero organisation", max_length=255, blank=True)
    connection_id = models.CharField(
        "Xero connection ID", max_length=64, help_text="For DELETE /connections/{id}."
    )
    connected_at = models.DateTimeField(default=timezone.now)
    connected_by = done_by()

    def __str__(self):
        return f"{self.site.code} → {self.tenant_name or self.tenant_id}"
