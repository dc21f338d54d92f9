"""What ``/readyz`` asks: can this Warehouse do its work now?

Each check answers ``{"ok": bool, ...}`` with counts and ages only: never a secret, a Site,
a name or a worker's id, since the probe needs no login.
"""

import datetime
import functools
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Min
from django.utils import timezone

from sites.fields import encrypted_fields
from warehouse import encryption

from .heartbeat import worker_heartbeats

Check = dict[str, Any]


def database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


@functools.cache
def _migrations_on_disk() -> frozenset[tuple[str, str]]:
    # The code's migrations change only with a new release, which restarts the process.
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


@functools.cache
def migrations_squashed_on_disk() -> frozenset[tuple[str, str]]:
    """The migrations a squashed one on disk replaces: a database that applied the squashed
    one records them as applied too (a library's squash, django-otp-webauthn's)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(
        replaced
        for migration in loader.disk_migrations.values()
        for replaced in migration.replaces or ()
    )


def unapplied_migrations() -> list[tuple[str, str]]:
    """The code's migrations the database has not applied, in name order."""
    applied = set(MigrationRecorder(connection).applied_migrations())
    return sorted(_migrations_on_disk() - applied)


def migrations() -> Check:
    unapplied = unapplied_migrations()
    return {"ok": not unapplied, "unapplied": len(unapplied)}


def encryption_keys() -> Check:
    """The newest stored secret of each kind decrypts under ``FIELD_ENCRYPTION_KEYS``: these
    are the canaries. A key dropped too early, a typo or a restore under the wrong keys fails
    here before a page or a test meets it. With no secret stored yet, a round trip."""
    checked = 0
    for model in apps.get_models():
        for field in encrypted_fields(model):
            # The field decrypts on the way out; a key that cannot raises EncryptionKeyError.
            secret = (
                model._base_manager.exclude(**{field.attname: ""})
                .exclude(**{f"{field.attname}__isnull": True})
                .order_by("-pk")
                .values_list(field.attname, flat=True)
                .first()
            )
            if secret is not None:
                checked += 1
    if checked == 0:
        canary = "warehouse-canary"
        return {"ok": encryption.decrypt(encryption.encrypt(canary)) == canary, "canaries": 0}
    return {"ok": True, "canaries": checked}


def workers(*, now: datetime.datetime) -> Check:
    """At least one worker beat within ``WORKER_HEARTBEAT_WINDOW`` seconds."""
    ages = worker_heartbeats(now=now)
    if ages is None:
        return {"ok": True, "skipped": "the task backend runs tasks without workers"}
    window = settings.WORKER_HEARTBEAT_WINDOW
    alive = [age for age in ages if age <= window]
    return {
        "ok": bool(alive),
        "alive": len(alive),
        "last_heartbeat_seconds": round(ages[0], 1) if ages else None,
        "window_seconds": window,
    }


def queue(*, now: datetime.datetime) -> Check:
    """The oldest queued check waits less than ``READY_OLDEST_QUEUED_CHECK`` seconds."""
    from xero.models import QueuedCheck

    summary = QueuedCheck.objects.aggregate(oldest=Min("queued_at"))
    oldest = summary["oldest"]
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    limit = settings.READY_OLDEST_QUEUED_CHECK
    return {"ok": age <= limit, "oldest_seconds": round(age, 1), "limit_seconds": limit}


def readiness(*, now: datetime.datetime | None = None) -> tuple[bool, dict[str, Check]]:
    """Every check's answer, and whether all passed. A check that fails with an error
    reports the error's class only (its message could name a host, a user or a table)."""
    now = now or timezone.now()
    checks: dict[str, Callable[[], Check]] = {
        "database": database,
        "migrations": migrations,
        "encryption": encryption_keys,
        "workers": lambda: workers(now=now),
        "queue": lambda: queue(now=now),
    }
    results: dict[str, Check] = {}
    for name, check in checks.items():
        if name != "database" and not results["database"]["ok"]:
            results[name] = {"ok": False, "error": "the database did not answer"}
            continue
        try:
            results[name] = check()
        except encryption.EncryptionKeyError:
            results[name] = {"ok": False, "error": "FIELD_ENCRYPTION_KEYS cannot decrypt"}
        except DatabaseError as error:
            results[name] = {"ok": False, "error": type(error).__name__}
        except Exception as error:  # noqa: BLE001 -- a probe says what failed, never a 500
            results[name] = {"ok": False, "error": type(error).__name__}
    return all(result["ok"] for result in results.values()), results
