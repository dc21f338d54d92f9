"""The session engine (``SESSION_ENGINE``): Django's database sessions, as a backup may hold them.

What a row keeps, and why a copy of the table (``dumpdata``, ``pg_dump``, a copy of the
SQLite file) opens nothing:

- the session key only as a keyed hash (HMAC-SHA256 under ``SECRET_KEY``; a key made under
  one of ``SECRET_KEY_FALLBACKS`` is still found, and filed under the current key when next
  used). The browser's cookie is the only place the key itself lives.
- the data encrypted under ``FIELD_ENCRYPTION_KEYS`` (newest first, any of them decrypts),
  so a pending Xero state and its PKCE verifier (``xero/connect.py``) exist in plain text
  only in the process serving the request.

A session also ends, whatever its cookie says, ``SESSION_IDLE_MINUTES`` after its last
request and ``SESSION_MAX_HOURS`` after it began: both are checked here, on the server.
Django's own database backend does the rest (``clearsessions`` deletes ended rows).
"""

import datetime
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.crypto import salted_hmac

from warehouse import encryption

_KEY_HASH_SALT = "warehouse.accounts.sessions.key"
# When the session began (seconds since the epoch), kept inside the encrypted data: the
# session's absolute age counts from here, across the key changes of signing in.
STARTED = "_warehouse_session_started"
# The row's idle deadline is pushed back at most this often, not written on every request.
TOUCH_EVERY_SECONDS = 60


def idle_seconds() -> int:
    return _positive("SESSION_IDLE_MINUTES") * 60


def max_age_seconds() -> int:
    return _positive("SESSION_MAX_HOURS") * 3600


def _positive(name: str) -> int:
    value = getattr(settings, name)
    if not isinstance(value, int) or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a whole number above 0 (it is {value!r}).")
    return value


def key_hashes(session_key: str) -> list[str]:
    """The stored forms of ``session_key``: under SECRET_KEY, then each fallback."""
    return [
        salted_hmac(_KEY_HASH_SALT, session_key, secret=secret, algorithm="sha256").hexdigest()
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ]


class SessionStore(DatabaseSessionStore):
    """Django's database session store, storing a keyed hash of the key and encrypted data."""

    @classmethod
    def get_model_class(cls):
        from .models import BrowserSession

        return BrowserSession

    def encode(self, session_dict) -> str:
        return encryption.encrypt(super().encode(session_dict))

    def decode(self, session_data: bytes | str) -> dict:
        if isinstance(session_data, bytes):
            session_data = session_data.decode("ascii", "replace")
        try:
            plain = encryption.decrypt(session_data)
        except encryption.EncryptionKeyError:
            # Made under a key no longer configured: as good as no session.
            return {}
        return super().decode(plain)

    def _get_session_from_db(self):
        if not self.session_key:
            return None
        hashes = key_hashes(self.session_key)
        row = self.model.objects.filter(
            session_key__in=hashes, expire_date__gt=timezone.now()
        ).first()
        if row is None:
            self._session_key = None
            return None
        if row.session_key != hashes[0]:
            # Made under a SECRET_KEY now in SECRET_KEY_FALLBACKS: filed under today's.
            self.model.objects.filter(session_key=row.session_key).update(session_key=hashes[0])
            row.session_key = hashes[0]
        return row

    def load(self) -> dict:
        row = self._get_session_from_db()
        if row is None:
            return {}
        data = self.decode(row.session_data)
        started = data.get(STARTED)
        if not isinstance(started, int | float) or time.time() >= started + max_age_seconds():
            self._session_key = None
            return {}
        left = (row.expire_date - timezone.now()).total_seconds()
        if left < idle_seconds() - TOUCH_EVERY_SECONDS:
            # Saved by the session middleware at the end of this request: the idle
            # deadline moves on.
            self.modified = True
        return data

    def exists(self, session_key) -> bool:
        return self.model.objects.filter(session_key__in=key_hashes(session_key)).exists()

    def create_model_instance(self, data):
        data.setdefault(STARTED, time.time())
        now = timezone.now()
        ends = datetime.datetime.fromtimestamp(data[STARTED] + max_age_seconds(), tz=datetime.UTC)
        return self.model(
            session_key=key_hashes(
                # Django's own helper; the stubs leave it out.
                self._get_or_create_session_key()  # type: ignore[attr-defined]
            )[0],
            session_data=self.encode(data),
            expire_date=min(now + datetime.timedelta(seconds=idle_seconds()), ends),
        )

    def delete(self, session_key=None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        self.model.objects.filter(session_key__in=key_hashes(session_key)).delete()

    # The async faces (ASGI) run the same code: Django's would store the key in clear.
    async def aload(self) -> dict:
        return await sync_to_async(self.load)()

    async def aexists(self, session_key) -> bool:
        return await sync_to_async(self.exists)(session_key)

    async def acreate_model_instance(self, data):
        return await sync_to_async(self.create_model_instance)(data)

    async def adelete(self, session_key=None) -> None:
        await sync_to_async(self.delete)(session_key)
