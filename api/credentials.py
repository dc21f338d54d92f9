"""API credentials: make, check, count and revoke them.

A request's credential is checked and counted in one UPDATE on its row
(``credential_use``): the rate limit's fixed one-minute window and the last use change
together, atomically on both databases (a row lock on PostgreSQL, the write lock on
SQLite), so processes on any number of machines share one count without a cache server.
"""

import datetime
import secrets
import string
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from sites import audit
from sites.models import AuditEntry, Site

from . import errors
from .models import SECRET_PREFIX, ApiCredential, Scope

LOOKUP_ID_LENGTH = 12
SECRET_LENGTH = 40
_ALPHABET = string.ascii_letters + string.digits
SCOPES = [scope.value for scope in Scope]


@dataclass(frozen=True)
class Issued:
    credential: ApiCredential
    secret: str  # shown once, never stored


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def credential_create(
    *,
    name: str,
    scopes: list[str],
    site_codes: list[str] | None = None,
    days: int | None = None,
    created_by=None,
    now: datetime.datetime | None = None,
) -> Issued:
    """Make a credential; the secret is returned here once and only its hash is kept.

    Raises ``ValueError`` with a sentence to show for an unknown scope or Site, an empty
    name, or a lifetime that is not 1 to 3650 days.
    """
    now = now or timezone.now()
    name = " ".join(name.split())
    if not name:
        raise ValueError("Give the credential a name that says who uses it.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"Scopes are {' and '.join(SCOPES)}; got {', '.join(unknown) or 'none'}.")
    days = settings.API_CREDENTIAL_DAYS if days is None else days
    if not 1 <= days <= 3650:
        raise ValueError("A credential lasts 1 to 3650 days.")
    site_codes = list(dict.fromkeys(site_codes or []))
    sites = list(Site.objects.filter(code__in=site_codes))
    missing = sorted(set(site_codes) - {site.code for site in sites})
    if missing:
        raise ValueError(f"No Site with the code {', '.join(missing)}.")
    lookup_id = _random(LOOKUP_ID_LENGTH)
    secret = f"{SECRET_PREFIX}{lookup_id}_{_random(SECRET_LENGTH)}"
    with transaction.atomic():
        credential = ApiCredential.objects.create(
            name=name[:100],
            lookup_id=lookup_id,
            secret_hash=ApiCredential.hash_secret(secret),
            scopes=sorted(set(scopes)),
            created_at=now,
            created_by=created_by,
            expires_at=now + datetime.timedelta(days=days),
        )
        credential.sites.set(sites)
        reach = ", ".join(site.code for site in sites) or "every Site"
        audit.record(
            kind=AuditEntry.Kind.API_CREDENTIAL_CREATED,
            target=credential,
            actor=created_by,
            summary=(
                f"{credential.display_id} “{credential.name}”: {', '.join(credential.scopes)}; "
                f"{reach}; expires {credential.expires_at:%Y-%m-%d}"
            ),
        )
    return Issued(credential=credential, secret=secret)


def credential_revoke(*, credential: ApiCredential, user=None, now=None) -> bool:
    """Revoke ``credential`` (at once, for every process); False if it already was."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = ApiCredential.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(
            revoked_at=now
        )
        if changed:
            audit.record(
                kind=AuditEntry.Kind.API_CREDENTIAL_REVOKED,
                target=credential,
                actor=user,
                summary=f"{credential.display_id} “{credential.name}”",
            )
    credential.revoked_at = credential.revoked_at or now
    return bool(changed)


def _lookup_id(secret: str) -> str | None:
    if not secret.startswith(SECRET_PREFIX):
        return None
    lookup_id, _, rest = secret[len(SECRET_PREFIX) :].partition("_")
    if len(lookup_id) != LOOKUP_ID_LENGTH or len(rest) != SECRET_LENGTH:
        return None
    return lookup_id


def credential_use(*, secret: str, now: datetime.datetime | None = None) -> ApiCredential:
    """The live credential ``secret`` names, counted against its rate limit.

    Raises ``CredentialInvalid``, ``CredentialExpired``, ``CredentialRevoked`` or
    ``RateLimited`` (with ``Retry-After``).
    """
    now = now or timezone.now()
    lookup_id = _lookup_id(secret)
    credential = ApiCredential.objects.filter(lookup_id=lookup_id).first() if lookup_id else None
    if credential is None or not constant_time_compare(
        credential.secret_hash, ApiCredential.hash_secret(secret)
    ):
        raise errors.CredentialInvalid()
    if credential.revoked_at is not None:
        raise errors.CredentialRevoked()
    if credential.expires_at <= now:
        raise errors.CredentialExpired()
    count = _count_request(credential, now=now)
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if count > limit:
        wait = 60 - int(now.timestamp()) % 60
        raise errors.RateLimited(
            errors.RateLimited.message.format(seconds=wait), headers={"Retry-After": str(wait)}
        )
    return credential


def _count_request(credential: ApiCredential, *, now: datetime.datetime) -> int:
    """Count one request in the credential's current minute; return the minute's count.

    One statement, so two processes never both read the old count: the window restarts at
    1 when the minute changed, else goes up by one, and the row says the result.
    """
    minute = int(now.timestamp()) // 60
    table = ApiCredential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 - the table name is ours, values are parameters
            "window_count = CASE WHEN window_start = %s THEN window_count + 1 ELSE 1 END, "
            "window_start = %s, last_used_at = %s WHERE id = %s RETURNING window_count",
            [minute, minute, now, credential.pk],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def reachable_sites(credential: ApiCredential):
    """The Sites ``credential`` may see: its own list, or every Site when it has none."""
    restricted = credential.sites.values_list("pk", flat=True)
    if ApiCredential.sites.through.objects.filter(apicredential_id=credential.pk).exists():
        return Site.objects.filter(pk__in=restricted)
    return Site.objects.all()
