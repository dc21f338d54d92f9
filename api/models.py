"""The Interconnect API's own records: machine credentials, hand-outs, webhooks.

Nothing here holds a Xero secret: the API hands out what ``xero`` keeps.
"""

import datetime
import hashlib

from django.conf import settings
from django.db import connections, models
from django.utils import timezone

from sites.fields import EncryptedTextField
from sites.models import Site

# Every secret starts with this, so that a leaked one is recognised (secret scanners, logs)
# as a Warehouse API credential; then the lookup id, then the secret part.
SECRET_PREFIX = "whapi_"  # noqa: S105 - a prefix, not a secret


class Scope(models.TextChoices):
    STATUS = "status", "status: read Sites' link state"
    CREDENTIALS = "credentials", "credentials: get Xero tokens and signatures"


class ApiCredentialQuerySet(models.QuerySet["ApiCredential"]):
    def expiring_within(
        self, days: int, *, now: datetime.datetime | None = None
    ) -> "ApiCredentialQuerySet":
        """Live credentials that expire within ``days`` (for /readyz and metrics)."""
        now = now or timezone.now()
        return self.filter(
            revoked_at__isnull=True,
            expires_at__gt=now,
            expires_at__lte=now + datetime.timedelta(days=days),
        )


class ApiCredential(models.Model):
    """A machine's key to the API (the Interconnect's), never a person's.

    Only a SHA-256 hash of the secret is stored: the secret is shown once when it is made.
    A secret reads ``whapi_<lookup id>_<secret>``: the lookup id finds the row without
    scanning, the hash proves the rest (GitHub's tokens work the same way). High-entropy
    secrets need no slow hash; a fast one keeps every request cheap.
    """

    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Interconnect prod'.")
    lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="Any of: status, credentials.")
    # Empty: every Site.
    sites = models.ManyToManyField(Site, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The rate limit's fixed window: its start (Unix minute) and the requests counted in it,
    # both changed by one UPDATE per request (``services.credential_use``).
    window_start = models.BigIntegerField(default=0, editable=False)
    window_count = models.IntegerField(default=0, editable=False)

    objects = ApiCredentialQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API credential"

    def __str__(self) -> str:
        return f"{self.name} ({self.display_id})"

    @property
    def display_id(self) -> str:
        """What pages and the audit trail show: the prefix and the lookup id, never the secret."""
        return f"{SECRET_PREFIX}{self.lookup_id}_…"

    def is_live(self, now: datetime.datetime | None = None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class HandOut(models.Model):
    """Tokens and signatures handed to one credential for one Site in one hour, counted.

    The audit trail gets one row when the hour's first hand-out happens (it is append-only,
    so it cannot count); the count goes on here.
    """

    class Kind(models.TextChoices):
        ACCESS_TOKEN = "access_token", "Access token"
        SIGNATURE = "signature", "OAuth 1.0a signature"

    credential = models.ForeignKey(ApiCredential, on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour", "-pk"]
        verbose_name = "API hand-out"
        constraints = [
            models.UniqueConstraint(
                fields=["credential", "site", "kind", "hour"], name="api_handout_one_row_per_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} × {self.kind} for {self.site_id} at {self.hour:%Y-%m-%d %H:00}"


class SiteStampManager(models.Manager):
    def touch(self, site_id: int, at: datetime.datetime) -> None:
        """Set ``site_id``'s stamp to ``at``, in one statement (an upsert).

        Written for every recorded test of a fleet check: one statement with no
        transaction around it (``bulk_create`` would open one, a second write transaction
        per test on SQLite), and no query to compile.
        """
        connection = connections[self.db]
        table = connection.ops.quote_name(self.model._meta.db_table)
        # Only a quoted identifier is put into the text; the values are parameters.
        upsert = (
            f"INSERT INTO {table} (site_id, changed_at) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (site_id) DO UPDATE SET changed_at = excluded.changed_at"
        )
        with connection.cursor() as cursor:
            cursor.execute(upsert, [site_id, connection.ops.adapt_datetimefield_value(at)])


class SiteStamp(models.Model):
    """When something a Site's status shows last changed: the ``since`` cursor of the list."""

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, primary_key=True, related_name="api_stamp"
    )
    changed_at = models.DateTimeField(db_index=True)

    objects = SiteStampManager()

    def __str__(self) -> str:
        return f"{self.site_id} changed {self.changed_at:%Y-%m-%d %H:%M:%S}"


class WebhookEvent(models.TextChoices):
    LINK_FAILED = "site.link_failed", "A Site's link fails"
    LINK_RECOVERED = "site.link_recovered", "A Site's link recovers"
    DISCONNECTED = "site.disconnected", "A Site is disconnected (here or in Xero)"
    RECONNECT_NEEDED = "site.reconnect_needed", "A Site needs reconnecting"
    CERTIFICATE_EXPIRING = "certificate.expiring", "A certificate enters its last 60 days"
    TOKEN_SET_EXPIRING = "token_set.expiring", "A token set nears its 60-day lapse"


class WebhookEndpoint(models.Model):
    """Where the Warehouse tells a receiver about changes of Sites' links."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty: all.")
    # Empty: every Site.
    sites = models.ManyToManyField(Site, blank=True, related_name="+")
    secret = EncryptedTextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    failures_in_a_row = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["url", "pk"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint; its attempts are ``WebhookAttempt`` rows."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(db_index=True)
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    site_code = models.CharField(max_length=32, blank=True)
    # The exact bytes signed and sent, so a retry sends what the first attempt sent.
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint_id} ({self.state})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    at = models.DateTimeField(default=timezone.now)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"attempt at {self.at:%Y-%m-%d %H:%M:%S}: {self.http_status or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


class EmittedEvent(models.Model):
    """Events told once per transition (a certificate, a token set's age): the key is what
    was told, so a second fleet check says nothing new."""

    key = models.CharField(max_length=120, unique=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
