from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.db import models
from django.db.models import Q

from .fields import EncryptedTextField
from .validators import (
    API_KEY_MAX_LENGTH,
    validate_api_key,
    validate_api_secret,
    validate_display_name,
)

INTERCONNECT_ID = "IMAGATEC"


def mask_secret(value: str) -> str:
    """Show a secret the way Xero does: first two and last two characters, e.g. ``LL.....QO``.

    Short values would give most of themselves away, so they show only the dots.
    """
    if not value:
        return ""
    if len(value) < 12:
        return "....."
    return f"{value[:2]}.....{value[-2:]}"


class SiteQuerySet(models.QuerySet):
    def update(self, **kwargs):
        """Update the rows and record each changed Site in the audit trail.

        ``QuerySet.update`` (and ``bulk_update``, which calls it) sends no signals, so
        django-auditlog cannot see it; reading the rows before and after closes that gap.
        """
        from . import audit

        return audit.audited_update(self, super().update, kwargs)

    update.alters_data = True


class Site(models.Model):
    """A customer Site and the Xero details its integration uses."""

    class ConnectionType(models.TextChoices):
        PRIVATE_APP = "private_app", "Private application (OAuth 1.0a, retired by Xero)"
        CUSTOM_CONNECTION = "custom_connection", "Custom Connection (OAuth 2.0)"
        WEB_APP = "web_app", "Xero app (Connect to Xero)"

    name = models.CharField(max_length=200, validators=[validate_display_name])
    code = models.SlugField(
        max_length=32,
        unique=True,
        help_text="Short unique code used in links and file names, e.g. 'acme-syd'.",
        error_messages={"unique": "Another Site already uses this code. Choose another."},
    )
    interconnect_id = models.CharField(
        "Xero Interconnect ID",
        max_length=16,
        default=INTERCONNECT_ID,
        editable=False,
        help_text="Set by Imagatec.",
    )
    connection_type = models.CharField(
        max_length=32,
        choices=ConnectionType.choices,
        default=ConnectionType.PRIVATE_APP,
    )
    api_key = models.CharField(
        "Xero API Key",
        max_length=API_KEY_MAX_LENGTH,
        blank=True,
        validators=[validate_api_key],
        help_text="The Consumer Key (private application) or Client ID (Custom Connection).",
    )
    api_secret = EncryptedTextField(
        "Xero API Secret",
        blank=True,
        validators=[validate_api_secret],
        help_text="The Consumer Secret or Client Secret. Stored encrypted; never shown again.",
    )
    payroll_enabled = models.BooleanField(
        "Payroll enabled",
        default=True,
        help_text="The procedure's 'Enable Payroll API for this organisation' box.",
    )
    xero_organisation_name = models.CharField(
        "Xero organisation",
        max_length=255,
        blank=True,
        help_text="Found by the last successful connection test.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_api_secret_mask", "Can see the masked Xero API Secret"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(interconnect_id=INTERCONNECT_ID),
                name="site_interconnect_id_locked",
                violation_error_message=(
                    f"The Xero Interconnect ID is always {INTERCONNECT_ID}, set by Imagatec; "
                    "it cannot be changed."
                ),
            ),
            models.UniqueConstraint(
                fields=["api_key"],
                condition=~Q(api_key=""),
                name="site_api_key_unique",
                violation_error_message=(
                    "Another Site already uses this API Key. Each Xero application belongs to "
                    "one Site: check you copied this Site's Consumer Key (or Client ID)."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def api_secret_masked(self) -> str:
        return mask_secret(self.api_secret)

    @property
    def has_api_credentials(self) -> bool:
        return bool(self.api_key and self.api_secret)

    @property
    def signs_with_certificate(self) -> bool:
        """Only a private application signs with an X509 certificate (OAuth 1.0a RSA-SHA1);
        a Custom Connection authenticates with its Client ID and Secret alone."""
        return self.connection_type == self.ConnectionType.PRIVATE_APP


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log: bool = False, **kwargs):
        """django-auditlog's entry for a Site or a user, with the trail's own fields."""
        from . import audit

        kwargs.update(audit.entry_fields_for(instance, kwargs.get("action")))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        """django-auditlog's entry for a many-to-many change (a user's groups, a group's
        permissions), with the trail's own fields."""
        from . import audit

        kwargs.update(audit.entry_fields_for(instance, self.model.Action.UPDATE))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)


class AuditEntry(AbstractLogEntry):
    """One row of the audit trail: django-auditlog's log entry, plus what Support ask about.

    django-auditlog writes the Site's create, change and delete rows (``AUDITLOG_LOGENTRY_MODEL``
    names this model); ``sites/audit.py`` writes the other events. Rows are append-only:
    no page edits or deletes them, and database triggers (``sites/audit_triggers.py``)
    refuse UPDATE and DELETE, except the retention prune of ``prune_audit_trail``.

    Nothing here points at the Site or the user with a foreign key: a row must outlive
    both, and a cascade or ``SET NULL`` would be an UPDATE the triggers refuse. So the row
    keeps the Site's id, code and name, and the user's id and username, as they were.
    """

    class Kind(models.TextChoices):
        SITE_CREATED = "site_created", "Site created"
        SITE_CHANGED = "site_changed", "Site changed"
        SITE_DELETED = "site_deleted", "Site deleted"
        SECRETS_REENCRYPTED = "secrets_reencrypted", "Secrets re-encrypted"
        CERTIFICATE_ISSUED = "certificate_issued", "Certificate issued"
        CERTIFICATE_DOWNLOADED = "certificate_downloaded", "Certificate downloaded"
        CERTIFICATE_ACTIVATED = "certificate_activated", "Certificate activated"
        CERTIFICATE_RETIRED = "certificate_retired", "Certificate retired"
        CERTIFICATE_DELETED = "certificate_deleted", "Certificate deleted"
        CONNECTION_TEST = "connection_test", "Connection test run by hand"
        FLEET_CHECK_QUEUED = "fleet_check_queued", "Background check queued"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOCKED_OUT = "locked_out", "Locked out"
        SECOND_FACTOR_ENROLLED = "second_factor_enrolled", "Second factor enrolled"
        SECOND_FACTOR_RESET = "second_factor_reset", "Second factor reset"
        AUDIT_PRUNED = "audit_pruned", "Old audit rows pruned"
        INVITATION_SENT = "invitation_sent", "Customer invited"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
        INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
        CUSTOMER_ADDED = "customer_added", "Site added to a customer"
        CUSTOMER_REMOVED = "customer_removed", "Customer removed from the Site"
        USER_CHANGED = "user_changed", "User or their roles changed"
        ROLE_CHANGED = "role_changed", "Role's permissions changed"
        RECOVERY_CODE_USED = "recovery_code_used", "Signed in with a recovery code"
        XERO_CONNECTED = "xero_connected", "Connected to Xero"
        XERO_DISCONNECTED = "xero_disconnected", "Disconnected from Xero"
        # The Interconnect API (api/): its credentials, and what they were handed.
        API_CREDENTIAL_CREATED = "api_credential_created", "API credential created"
        API_CREDENTIAL_REVOKED = "api_credential_revoked", "API credential revoked"
        API_HANDOUT = "api_handout", "Xero credential handed out through the API"
        WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint_created", "Webhook endpoint created"

    content_type = models.ForeignKey(
        "contenttypes.ContentType",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_pk = models.CharField(max_length=255, blank=True, default="", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    site_pk = models.BigIntegerField("Site id", null=True, blank=True)
    site_code = models.CharField("Site code", max_length=32, blank=True)
    site_name = models.CharField("Site name", max_length=200, blank=True)
    actor_username = models.CharField("user", max_length=150, blank=True)
    via = models.CharField(
        max_length=120, blank=True, help_text="The web, or which command or process."
    )
    summary = models.CharField(max_length=300, blank=True)

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        ordering = ["-timestamp", "-pk"]
        permissions = [("view_audit_log", "Can see the audit log of every Site")]
        indexes = [models.Index(fields=["site_pk", "-timestamp"], name="auditentry_site_latest")]

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.site_code}"

    @property
    def who(self) -> str:
        """The user, else the command or process that did it."""
        return self.actor_username or self.via or "system"

    def change_lines(self) -> list[tuple[str, str, str]]:
        """Each changed field as (label, old, new), secrets already reduced to markers."""
        from . import audit

        return audit.change_lines(self)


class AuditPruneWindow(models.Model):
    """Rows older than ``before`` may be deleted, in the transaction that made this row.

    The audit triggers let a DELETE through only for a row older than a window's
    ``before`` that is itself at least a year old; ``prune_audit_trail`` inserts the
    window, deletes and removes the window in one transaction, so no other connection
    ever sees it.
    """

    before = models.DateTimeField()

    def __str__(self):
        return f"prune before {self.before:%Y-%m-%d}"
