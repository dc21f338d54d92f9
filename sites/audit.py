"""The audit trail: who did what to a Site's Xero link, when, from where.

django-auditlog records every create, change and delete of a Site (``register_site``):
through ``save()`` and ``delete()`` from any path (admin, pages, commands, a shell), and
through ``QuerySet.update()`` via ``SiteQuerySet``. The other events (certificates,
connection tests, logins...) are written here by ``record``. Everything lands in one table,
``AuditEntry``.

Secrets never reach the trail: an encrypted field's old and new values are reduced to
``SECRET`` or ``""`` before they are stored, so a row says "set", "changed" or "cleared"
and nothing else (no plaintext, no ciphertext, no partial mask).

Who and from where: in a request, the user and the client's address (``AuditMiddleware``);
in a management command, ``manage.py <command>``; otherwise the process's name.
"""

import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from warehouse import signals as warehouse_signals

from . import audit_chain
from .audit_triggers import PRUNE_FLOOR_DAYS
from .fields import encrypted_fields
from .models import (
    SECRET,
    AuditChainCheck,
    AuditEntry,
    AuditPruneWindow,
    RefusedAccessCount,
    Site,
    secret_marker,
    tracked_site_fields,
)
from .origin import AuditMiddleware, client_address, current_origin, via

# What the rest of the code asks of the trail, whichever lower module holds it: the marker
# and the origin (``sites/origin.py``) sit below the models, which record their own changes.
__all__ = [
    "SECRET",
    "AuditMiddleware",
    "client_address",
    "current_origin",
    "record",
    "secret_marker",
    "tracked_site_fields",
    "via",
]

# The username typed into a failed login is someone's guess: kept, but bounded.
TYPED_USERNAME_MAX = 150

Kind = AuditEntry.Kind

# Write one row of the trail (``AuditEntryManager.record``: the models write their own rows).
record = AuditEntry.objects.record


def register_site() -> None:
    """Have django-auditlog record every create, change and delete of a Site."""
    from auditlog.registry import auditlog

    auditlog.register(
        Site,
        # Own columns only: auditlog would otherwise list reverse relations on create.
        include_fields=tracked_site_fields(),
        mask_fields=[field.name for field in encrypted_fields(Site)],
        mask_callable="sites.models.secret_marker",
    )


# A user's columns the trail follows: who they are and what they may do, never the password
# hash or the time of their last login (a save at every sign-in).
TRACKED_USER_FIELDS = [
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
]


def register_users() -> None:
    """Have django-auditlog record who may do what: users (their groups and permissions
    included) and the roles' permissions."""
    from auditlog.registry import auditlog
    from django.contrib.auth import get_user_model

    auditlog.register(
        get_user_model(),
        include_fields=TRACKED_USER_FIELDS,
        m2m_fields={"groups", "user_permissions"},
    )
    auditlog.register(Group, include_fields=["name"], m2m_fields={"permissions"})


# --- writing rows --------------------------------------------------------------------------


def record_for_sites(*, kind: str, site_ids, actor=None, summary: str = "") -> int:
    """One row per Site in ``site_ids`` (e.g. a queued background check), in one insert."""
    origin = current_origin()
    if actor is not None:
        origin["actor"] = actor
        origin["actor_username"] = actor.get_username()
    site_type = ContentType.objects.get_for_model(Site)
    now = timezone.now()
    entries = [
        AuditEntry(
            kind=kind,
            action=AuditEntry.Action.UPDATE,
            content_type=site_type,
            object_pk=str(pk),
            object_id=pk,
            object_repr=f"{name} ({code})",
            summary=summary[:300],
            timestamp=now,
            site_pk=pk,
            site_code=code,
            site_name=name,
            **origin,
        )
        for pk, code, name in Site.objects.filter(pk__in=list(site_ids))
        .order_by("pk")
        .values_list("pk", "code", "name")
    ]
    AuditEntry.objects.bulk_create(entries, batch_size=500)
    return len(entries)


def record_secrets_reencrypted(*, site_ids_and_fields: dict) -> None:
    """After ``rotate_encryption_keys``: one row per Site whose secrets were re-encrypted.

    ``site_ids_and_fields`` maps a Site's id to the labels of its re-encrypted secrets.
    """
    sites = Site.objects.filter(pk__in=list(site_ids_and_fields)).only("pk", "code", "name")
    for site in sites:
        labels = sorted(site_ids_and_fields[site.pk])
        record(
            kind=Kind.SECRETS_REENCRYPTED,
            site=site,
            changes={label: [SECRET, SECRET] for label in labels},
            summary="Re-encrypted under the newest key in FIELD_ENCRYPTION_KEYS; "
            "the values themselves did not change.",
        )


# --- refused pages ---------------------------------------------------------------------------


def record_refused_access(*, user, page_kind: str, status: int, path: str, now=None) -> bool:
    """A signed-in ``user`` was refused a page (``status`` 403 or 404): the trail gets a row
    for the first refusal of this user and page kind in the hour, and the ones after it are
    counted in ``RefusedAccessCount``, so that a scan cannot flood the trail. Returns whether
    a row was written."""
    now = now or timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    page_kind = page_kind[:200]
    with transaction.atomic():
        counter, created = RefusedAccessCount.objects.get_or_create(
            user=user, page_kind=page_kind, hour=hour
        )
        if not created:
            RefusedAccessCount.objects.filter(pk=counter.pk).update(count=F("count") + 1)
            return False
        record(
            kind=Kind.ACCESS_REFUSED,
            actor=user,
            summary=f"{status} for {path[:200]} ({page_kind}); more refusals of this kind "
            "this hour are counted, not listed",
        )
    return True


# --- logins and second factors --------------------------------------------------------------


def _on_login(sender, request, user, **kwargs):
    record(kind=Kind.LOGIN, actor=user, target=user)


def _username_tried(typed) -> str:
    """A username typed at a sign-in, as the trail keeps it: a user's name in full, anything
    else only by its length (a password typed into the wrong box is not kept; Django already
    replaced the password itself with stars)."""
    from django.contrib.auth import get_user_model

    typed = str(typed or "")[:TYPED_USERNAME_MAX]
    if typed and get_user_model().objects.filter(username=typed).exists():
        return f"username {typed!r}"
    return f"a username that is no user's ({len(typed)} characters)"


def _on_login_failed(sender, credentials, request=None, **kwargs):
    record(
        kind=Kind.LOGIN_FAILED,
        summary=f"Tried {_username_tried(credentials.get('username'))}",
    )


def _on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    record(kind=Kind.LOCKED_OUT, summary=f"Too many failed logins for {_username_tried(username)}")


def _on_recovery_code_used(sender, user, left, **kwargs):
    record(
        kind=Kind.RECOVERY_CODE_USED,
        actor=user,
        target=user,
        summary=f"{user.get_username()} signed in with a recovery code; {left} left",
    )


def _on_second_factor(kind):
    def receiver(sender, user, by=None, **kwargs):
        by_text = "" if by is None or by == user else f" by {by.get_username()}"
        record(
            kind=kind,
            actor=by or user,
            target=user,
            summary=f"{Kind(kind).label} for {user.get_username()}{by_text}",
        )

    return receiver


_on_second_factor_enrolled = _on_second_factor(Kind.SECOND_FACTOR_ENROLLED)
_on_second_factor_reset = _on_second_factor(Kind.SECOND_FACTOR_RESET)


def _on_passkey(kind):
    def receiver(sender, user, name, by=None, **kwargs):
        by_text = "" if by is None or by == user else f" by {by.get_username()}"
        record(
            kind=kind,
            actor=by or user,
            target=user,
            summary=f"{Kind(kind).label} ({name!r}) for {user.get_username()}{by_text}",
        )

    return receiver


_on_passkey_added = _on_passkey(Kind.PASSKEY_ADDED)
_on_passkey_removed = _on_passkey(Kind.PASSKEY_REMOVED)


def connect_receivers() -> None:
    """Connect the trail to Django's login signals, django-axes' lockout (when installed)
    and the second-factor signals of ``warehouse/signals.py``."""
    user_logged_in.connect(_on_login, dispatch_uid="audit_login")
    user_login_failed.connect(_on_login_failed, dispatch_uid="audit_login_failed")
    warehouse_signals.second_factor_enrolled.connect(
        _on_second_factor_enrolled, dispatch_uid="audit_second_factor_enrolled"
    )
    warehouse_signals.second_factor_reset.connect(
        _on_second_factor_reset, dispatch_uid="audit_second_factor_reset"
    )
    warehouse_signals.recovery_code_used.connect(
        _on_recovery_code_used, dispatch_uid="audit_recovery_code_used"
    )
    warehouse_signals.passkey_added.connect(_on_passkey_added, dispatch_uid="audit_passkey_added")
    warehouse_signals.passkey_removed.connect(
        _on_passkey_removed, dispatch_uid="audit_passkey_removed"
    )
    from django.apps import apps

    if apps.is_installed("axes"):
        from axes.signals import user_locked_out

        user_locked_out.connect(_on_locked_out, dispatch_uid="audit_locked_out")


# --- retention ---------------------------------------------------------------------------


class AuditRetentionTooShort(ImproperlyConfigured):
    code = "audit_retention_too_short"

    def __init__(self, days: int):
        self.message = (
            f"AUDIT_RETENTION_DAYS is {days}, but audit rows are kept at least "
            f"{PRUNE_FLOOR_DAYS} days (the database triggers refuse younger deletions). "
            f"Set AUDIT_RETENTION_DAYS to {PRUNE_FLOOR_DAYS} or more (default 7 years)."
        )
        super().__init__(self.message)


def retention_cutoff(*, now=None):
    """Rows older than this may be pruned; raises ``AuditRetentionTooShort``."""
    days = settings.AUDIT_RETENTION_DAYS
    if days < PRUNE_FLOOR_DAYS:
        raise AuditRetentionTooShort(days)
    return (now or timezone.now()) - datetime.timedelta(days=days)


def _prunable(cutoff):
    """The rows a prune deletes: the oldest ids, up to the first row younger than ``cutoff``.

    Only a prefix of the chain goes, so what is kept still links up; a row older than the
    cutoff that follows a younger one (a clock set back) is kept until the rows before it go.
    """
    first_kept = (
        AuditEntry.objects.filter(timestamp__gte=cutoff).order_by("pk").values("pk").first()
    )
    old = AuditEntry.objects.all()
    return old if first_kept is None else old.filter(pk__lt=first_kept["pk"])


def prune(*, now=None, dry_run: bool = False) -> int:
    """Delete the rows older than ``AUDIT_RETENTION_DAYS``; return how many (would) go.

    The triggers refuse every DELETE on the table except, inside this transaction, of
    rows older than the prune window inserted here (see ``sites/audit_triggers.py``).
    The prune itself is recorded, naming the first row kept and the hash of the last row
    deleted, so ``audit_verify`` can tell this gap from a forged one.
    """
    cutoff = retention_cutoff(now=now)
    if dry_run:
        return _prunable(cutoff).count()
    with transaction.atomic():
        # The chain's lock first: no row is added between choosing the rows and recording.
        AuditEntry.objects.chain_tail_locked()
        old = _prunable(cutoff)
        last_deleted = old.order_by("-pk").values("pk", "chain_hash").first()
        first_kept = AuditEntry.objects.exclude(pk__in=old.values("pk")).order_by("pk").first()
        window = AuditPruneWindow.objects.create(before=cutoff)
        deleted, _ = old.delete()
        window.delete()
        # The counts of refusals after each hour's first go with the rows they count.
        RefusedAccessCount.objects.filter(hour__lt=cutoff).delete()
        entry = AuditEntry(
            kind=Kind.AUDIT_PRUNED,
            action=AuditEntry.Action.ACCESS,
            summary=f"{deleted} row(s) older than {cutoff:%Y-%m-%d %H:%M} UTC deleted "
            f"(AUDIT_RETENTION_DAYS={settings.AUDIT_RETENTION_DAYS}).",
            additional_data={
                "first_kept_pk": first_kept.pk if first_kept else None,
                "last_deleted_hash": last_deleted["chain_hash"] if last_deleted else None,
            },
            **current_origin(),
        )
        entry.save()
    return deleted


# --- the chain -------------------------------------------------------------------------------


def chain_verify(*, now=None) -> AuditChainCheck:
    """Walk the whole chain (streamed, in id order); record and return how far it held."""
    rows = (
        AuditEntry.objects.order_by("pk")
        .values("pk", "chain_prev", "chain_hash", *audit_chain.CHAIN_FIELD_NAMES)
        .iterator(chunk_size=5000)
    )
    report = audit_chain.walk(rows, pruned_kind=Kind.AUDIT_PRUNED)
    check = AuditChainCheck(
        checked_at=now or timezone.now(),
        rows=report.rows,
        first_pk=report.first_pk,
        last_verified_pk=report.last_pk,
        last_verified_hash="" if report.last_pk is None else report.last_hash,
        broken_pk=report.broken_pk,
        reason=report.reason[:200],
    )
    check.full_clean()
    check.save()
    return check
