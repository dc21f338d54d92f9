import datetime
from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst

from . import audit_chain
from .fields import EncryptedTextField, encrypted_fields
from .origin import current_origin
from .validators import (
    API_KEY_MAX_LENGTH,
    validate_api_key,
    validate_api_secret,
    validate_display_name,
)

INTERCONNECT_ID = "IMAGATEC"

# The audit trail's marker that stands for a secret: a row says "set", "changed" or
# "cleared" and nothing else (no plaintext, no ciphertext, no partial mask).
SECRET = "(secret)"  # noqa: S105 - the marker that stands for a secret, not one
# Fields that change on every save and say nothing about the Xero link.
UNTRACKED_SITE_FIELDS = ["id", "created_at", "updated_at", "version"]


def secret_marker(value: str) -> str:
    """django-auditlog's ``mask_callable`` for secrets: whether there is one, never what.

    auditlog hands over ``"None"`` for the side of a create or delete that has no value.
    """
    return "" if value in ("", "None") else SECRET


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
    def update(self, **kwargs: Any) -> int:
        """Update the rows and record each changed Site in the audit trail, one row per Site.

        ``QuerySet.update`` (and ``bulk_update``, which calls it) sends no signals, so
        django-auditlog cannot see it; reading the rows before and after closes that gap.
        """
        tracked = [name for name in tracked_site_fields() if name in kwargs]
        if not tracked:
            return super().update(**kwargs)
        secret = {f.name for f in encrypted_fields(Site)}
        with transaction.atomic(using=self.db):
            before = {row["pk"]: row for row in self.values("pk", *tracked)}
            count = super().update(**kwargs)
            after = Site.objects.filter(pk__in=list(before)).values("pk", "code", "name", *tracked)
            for row in after:
                old = before[row["pk"]]
                changes = {}
                for name in tracked:
                    if old[name] == row[name]:
                        continue
                    if name in secret:
                        changes[name] = [
                            secret_marker(old[name] or ""),
                            secret_marker(row[name] or ""),
                        ]
                    else:
                        changes[name] = [str(old[name]), str(row[name])]
                if changes:
                    site = Site(pk=row["pk"], code=row["code"], name=row["name"])
                    AuditEntry.objects.record(
                        kind=AuditEntry.Kind.SITE_CHANGED, site=site, changes=changes
                    )
        return count

    update.alters_data = True  # type: ignore[attr-defined]  # Django's marker for templates


# What Staff read when an API Key is another Site's (customers read ``API_KEY_REFUSED``, which
# does not tell them that the key exists: sites/forms.py).
API_KEY_TAKEN = (
    "Another Site already uses this API Key. Each Xero application belongs to one Site: check "
    "you copied this Site's Consumer Key (or Client ID)."
)
API_KEY_REFUSED = (
    "This API Key cannot be used for this Site. Check you copied this Site's own Consumer Key "
    "(or Client ID) from its Xero application; if it is right, ask Imagatec support."
)


class Site(models.Model):
    """A customer Site and the Xero details its integration uses."""

    # What the audit row of the next save or delete says besides the changes (not a column).
    _audit_summary: str

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
    # Goes up by one at every save through a form: a form carries the version it showed,
    # and a save from an older one is refused (``sites.services.site_edit_claim``).
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = SiteQuerySet.as_manager()

    class Meta:
        # Capitalised: a customer's Site, as every page names it ("The Site “Acme” was added").
        verbose_name = "Site"
        verbose_name_plural = "Sites"
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
                violation_error_message=API_KEY_TAKEN,
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


def tracked_site_fields() -> list[str]:
    """The Site's columns the audit trail follows, in the model's order."""
    return [f.name for f in Site._meta.concrete_fields if f.name not in UNTRACKED_SITE_FIELDS]


def _site_fields(site: Site | None) -> dict[str, Any]:
    if site is None:
        return {}
    return {"site_pk": site.pk, "site_code": site.code, "site_name": site.name}


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log: bool = False, **kwargs):
        """django-auditlog's entry for a Site or a user, with the trail's own fields."""
        kwargs.update(self.fields_for(instance, kwargs.get("action")))
        return super().log_create(instance, force_log=force_log, **kwargs)

    def log_m2m_changes(self, changed_queryset, instance, operation, field_name, **kwargs):
        """django-auditlog's entry for a many-to-many change (a user's groups, a group's
        permissions), with the trail's own fields."""
        kwargs.update(self.fields_for(instance, self.model.Action.UPDATE))
        return super().log_m2m_changes(changed_queryset, instance, operation, field_name, **kwargs)

    def chain_tail_locked(self) -> str:
        """Take the chain's lock (inside a transaction); the last row's hash, or GENESIS."""
        from django.db import connections

        audit_chain.lock(connections[self.db])
        last = self.order_by("-pk").values_list("chain_hash", flat=True).first()
        return last or audit_chain.GENESIS

    def bulk_create(self, objs, *args, **kwargs):
        """Insert ``objs`` as links of the chain, in their order, under the chain's lock."""
        objs = list(objs)
        with transaction.atomic(using=self.db):
            prev = self.chain_tail_locked()
            for obj in objs:
                obj.chain_prev = prev
                obj.chain_hash = prev = audit_chain.link(prev, audit_chain.values_of(obj))
            return super().bulk_create(objs, *args, **kwargs)

    def fields_for(self, instance: models.Model, action: int | None) -> dict[str, Any]:
        """The trail's own fields for a row django-auditlog writes about ``instance``."""
        Kind = AuditEntry.Kind
        fields = current_origin()
        if isinstance(instance, Site):
            fields.update(_site_fields(instance))
            fields["kind"] = {
                AuditEntry.Action.CREATE: Kind.SITE_CREATED,
                AuditEntry.Action.UPDATE: Kind.SITE_CHANGED,
                AuditEntry.Action.DELETE: Kind.SITE_DELETED,
            }.get(action, Kind.SITE_CHANGED)
            fields["summary"] = getattr(instance, "_audit_summary", "")[:300]
        elif isinstance(instance, Group):
            fields["kind"] = Kind.ROLE_CHANGED
        elif isinstance(instance, AbstractBaseUser):
            fields["kind"] = Kind.USER_CHANGED
        return fields

    def record(
        self,
        *,
        kind: str,
        site: Site | None = None,
        target: models.Model | None = None,
        actor: AbstractBaseUser | None = None,
        summary: str = "",
        changes: dict[str, Any] | None = None,
        at: datetime.datetime | None = None,
    ) -> "AuditEntry":
        """Write one row of the trail about ``site`` (and ``target``, the object concerned).

        ``actor`` overrides the request's user (a login records the user who just logged in).
        ``changes`` maps a field name to ``[old, new]``; pass secrets through ``secret_marker``.
        """
        origin = current_origin()
        if actor is not None:
            origin["actor"] = actor
            origin["actor_username"] = actor.get_username()
        target = target if target is not None else site
        entry = self.model(
            kind=kind,
            action=self.model.Action.UPDATE if target is not None else self.model.Action.ACCESS,
            content_type=ContentType.objects.get_for_model(target) if target is not None else None,
            object_pk=str(target.pk) if target is not None else "",
            object_id=target.pk if target is not None and isinstance(target.pk, int) else None,
            object_repr=str(target)[:300] if target is not None else "",
            changes=changes,
            summary=summary[:300],
            timestamp=at or timezone.now(),
            **_site_fields(site),
            **origin,
        )
        entry.save()
        return entry


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
        CERTIFICATE_PENDING_AGAIN = "certificate_pending_again", "Certificate pending again"
        CERTIFICATE_DELETED = "certificate_deleted", "Certificate deleted"
        CONNECTION_TEST = "connection_test", "Connection test run by hand"
        FLEET_CHECK_QUEUED = "fleet_check_queued", "Background check queued"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOCKED_OUT = "locked_out", "Locked out"
        SECOND_FACTOR_ENROLLED = "second_factor_enrolled", "Second factor enrolled"
        SECOND_FACTOR_RESET = "second_factor_reset", "Second factor reset"
        PASSKEY_ADDED = "passkey_added", "Passkey added"
        PASSKEY_REMOVED = "passkey_removed", "Passkey removed"
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
        # A signed-in user refused a page (403 or 404): the first of each kind an hour.
        ACCESS_REFUSED = "access_refused", "Access refused"

    # (Annotated: django-auditlog's base class is untyped, so its fields are not inferred.)
    content_type: "models.ForeignKey[ContentType | None, ContentType | None]" = models.ForeignKey(
        "contenttypes.ContentType",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_pk: "models.CharField[str, str]" = models.CharField(
        max_length=255, blank=True, default="", db_index=True
    )
    actor: "models.ForeignKey[Any, Any]" = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    kind: "models.CharField[str, str]" = models.CharField(
        max_length=32, choices=Kind.choices, db_index=True
    )
    site_pk: "models.BigIntegerField[int | None, int | None]" = models.BigIntegerField(
        "Site id", null=True, blank=True
    )
    site_code: "models.CharField[str, str]" = models.CharField(
        "Site code", max_length=32, blank=True
    )
    site_name: "models.CharField[str, str]" = models.CharField(
        "Site name", max_length=200, blank=True
    )
    actor_username: "models.CharField[str, str]" = models.CharField(
        "user", max_length=150, blank=True
    )
    via: "models.CharField[str, str]" = models.CharField(
        max_length=120, blank=True, help_text="The web, or which command or process."
    )
    summary: "models.CharField[str, str]" = models.CharField(max_length=300, blank=True)

    # The hash chain (sites/audit_chain.py): the previous row's hash, and this row's over
    # that and its content. Set by save() and bulk_create(), never by hand.
    chain_prev: "models.CharField[str, str]" = models.CharField(
        max_length=64, blank=True, editable=False
    )
    chain_hash: "models.CharField[str, str]" = models.CharField(
        max_length=64, blank=True, editable=False
    )

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        ordering = ["-timestamp", "-pk"]
        permissions = [("view_audit_log", "Can see the audit log of every Site")]
        indexes = [models.Index(fields=["site_pk", "-timestamp"], name="auditentry_site_latest")]

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M} {self.get_kind_display()} {self.site_code}"

    def save(self, *args, **kwargs):
        """Insert this row as the chain's next link, under the chain's lock.

        (A row is never updated: the database's triggers refuse it.)
        """
        if not self._state.adding:
            return super().save(*args, **kwargs)
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            self.chain_prev = type(self).objects.db_manager(using).chain_tail_locked()
            self.chain_hash = audit_chain.link(self.chain_prev, audit_chain.values_of(self))
            return super().save(*args, **kwargs)

    @property
    def who(self) -> str:
        """The user, else the command or process that did it."""
        return self.actor_username or self.via or "system"

    def change_lines(self) -> list[dict[str, str]]:
        """Each change as ``{"label", "old", "new", "text"}`` for pages and CSV, secrets
        already reduced to markers."""
        changes = self.changes if isinstance(self.changes, dict) else {}
        # The model the row is about (a Site, a user, a group): its fields word the values.
        # get_for_id is cached per process: no query per row.
        model = (
            ContentType.objects.get_for_id(self.content_type_id).model_class()
            if self.content_type_id
            else None
        ) or Site
        lines = []
        for name, pair in sorted(changes.items(), key=lambda item: _field_order(item[0])):
            if isinstance(pair, dict) and pair.get("type") == "m2m":
                lines.append(_m2m_line(name, pair))
                continue
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            old, new = (
                "" if v in (None, "None") else _field_value(model, name, str(v)) for v in pair
            )
            label = _field_label(name)
            if SECRET in (old, new):
                word = "changed" if old and new else ("set" if new else "cleared")
                lines.append({"label": label, "old": "", "new": "", "text": f"{label}: {word}"})
            elif old != new:
                # (auditlog writes a missing side as "None": an empty field created or deleted
                # is no change worth a line.)
                shown_old = old if old else "(empty)"
                shown_new = new if new else "(empty)"
                lines.append(
                    {
                        "label": label,
                        "old": old,
                        "new": new,
                        "text": f"{label}: {shown_old} → {shown_new}",
                    }
                )
        return lines


def _field_label(name: str) -> str:
    try:
        field = Site._meta.get_field(name)
    except FieldDoesNotExist:
        return str(capfirst(name.replace("_", " ")))
    return str(capfirst(getattr(field, "verbose_name", name)))


# How the trail shows a yes/no field's stored value (auditlog keeps Python's "True").
BOOLEAN_WORDS = {"True": "yes", "False": "no"}


def _field_value(model: type[models.Model], name: str, value: str) -> str:
    """A stored value as the model's page shows it: a choice's label, "yes" or "no"."""
    if value == SECRET:
        return value
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return value
    if isinstance(field, models.BooleanField):
        return BOOLEAN_WORDS.get(value, value)
    labels = {str(key): str(label) for key, label in getattr(field, "flatchoices", None) or ()}
    return labels.get(value, value)


def _field_order(name: str) -> tuple[int, str]:
    order = tracked_site_fields()
    return (order.index(name) if name in order else len(order), name)


def _m2m_line(name: str, change: dict[str, Any]) -> dict[str, str]:
    """django-auditlog's record of a many-to-many change, e.g. "Groups: added Admins"."""
    label = _field_label(name)
    word = "added" if change.get("operation") == "add" else "removed"
    objects = ", ".join(str(item) for item in change.get("objects") or [])
    return {"label": label, "old": "", "new": "", "text": f"{label}: {word} {objects}"}


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


class AuditChainCheck(models.Model):
    """One walk of the audit chain by ``manage.py audit_verify``: how far it held.

    The health page and ``/readyz`` read the latest (``selectors.audit_chain_last_check``)
    instead of walking the chain on every request.
    """

    checked_at = models.DateTimeField()
    rows = models.PositiveIntegerField()
    first_pk = models.BigIntegerField(null=True, blank=True)
    last_verified_pk = models.BigIntegerField(null=True, blank=True)
    last_verified_hash = models.CharField(max_length=64, blank=True)
    broken_pk = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        get_latest_by = "checked_at"

    def __str__(self):
        state = "verified" if self.broken_pk is None else f"broken at #{self.broken_pk}"
        return f"audit chain {state} ({self.checked_at:%Y-%m-%d %H:%M})"


class RefusedAccessCount(models.Model):
    """How often one signed-in user was refused one kind of page (403 or 404) in one hour.

    The trail gets a row for the first refusal of each user, page kind and hour only
    (``sites.audit.record_refused_access``), so that a scan of a thousand addresses cannot
    flood it; the refusals after the first are counted here. A counter, not part of the
    append-only trail: it is updated in place.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The page's URL name (``xero:setup``), or "unknown" for an address that is no page.
    page_kind = models.CharField(max_length=200)
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "page_kind", "hour"], name="refused_access_once_per_hour"
            )
        ]

    def __str__(self):
        return f"{self.user} refused {self.page_kind} {self.count}× from {self.hour:%Y-%m-%d %H}:00"
