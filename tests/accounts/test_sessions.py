"""accounts/sessions.py: sessions that a backup cannot replay, and that end."""

import datetime
import io
import json
import re

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sessions
from accounts.models import BrowserSession
from accounts.sessions import STARTED, SessionStore, key_hashes
from tests.conftest import all_rows_text, database_files_bytes, readable_text
from tests.second_factor import pass_second_factor

INDEX = "/admin/"
SECRET_IN_SESSION = "pending-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
# Anything that could be a cookie's value: Django's keys are 32 of [a-z0-9].
TOKEN = re.compile(rb"[A-Za-z0-9_\-.:+/=]{20,200}")


def _opens_a_page(session_key: str) -> bool:
    browser = Client()
    browser.cookies["sessionid"] = session_key
    return browser.get(INDEX).status_code == 200


def _signed_in_sessions(client_for, make_user, log_in) -> list[str]:
    """A superuser's verified session holding a secret, a staff member's, and one that
    passed the password only; their cookies' keys."""
    superuser = client_for("superuser")
    session = superuser.session
    session["xero_connect"] = {"state-1": {"verifier": SECRET_IN_SESSION}}
    session.save()
    keys = [superuser.cookies["sessionid"].value]
    keys.append(log_in(Client(), make_user("Staff")).cookies["sessionid"].value)
    keys.append(log_in(Client(), make_user("Staff"), verify=False).cookies["sessionid"].value)
    assert _opens_a_page(keys[0]) and _opens_a_page(keys[1])
    return keys


def _strings(value) -> set[str]:
    """Every string in a decoded JSON document, keys included."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(k) | _strings(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(_strings(item) for item in value))
    return {str(value)}


def test_no_string_of_a_full_dumpdata_opens_a_page(client_for, make_user, log_in):
    keys = _signed_in_sessions(client_for, make_user, log_in)
    out = io.StringIO()

    call_command("dumpdata", format="json", stdout=out)

    dump = out.getvalue()
    for key in keys:
        assert key not in dump
    assert SECRET_IN_SESSION not in readable_text(dump)
    candidates = {s for s in _strings(json.loads(dump)) if 16 <= len(s) <= 300}
    assert any(len(s) == 64 for s in candidates)  # the sessions' rows are in the dump
    opened = [candidate for candidate in candidates if _opens_a_page(candidate)]
    assert opened == []


@pytest.mark.django_db(transaction=True)
def test_no_token_in_a_copy_of_the_database_opens_a_page(client_for, make_user, log_in):
    keys = _signed_in_sessions(client_for, make_user, log_in)

    copy = database_files_bytes() if connection.vendor == "sqlite" else all_rows_text()

    assert len(copy) > 1000
    for key in keys:
        assert key.encode() not in copy
    assert SECRET_IN_SESSION not in readable_text(copy.decode("latin-1"))
    candidates = {token.decode() for token in TOKEN.findall(copy)}
    opened = [candidate for candidate in candidates if _opens_a_page(candidate)]
    assert opened == []


def test_the_key_issued_after_the_password_never_becomes_verified(client, make_user):
    user = make_user("Staff")
    client.force_login(user)
    before = client.cookies["sessionid"].value

    pass_second_factor(client, user)

    after = client.cookies["sessionid"].value
    assert after != before
    assert not _opens_a_page(before)
    assert _opens_a_page(after)
    assert not BrowserSession.objects.filter(session_key__in=key_hashes(before)).exists()


def test_a_session_ends_after_the_idle_time(client_for, settings):
    settings.SESSION_IDLE_MINUTES = 30
    key = client_for("staff").cookies["sessionid"].value
    row = BrowserSession.objects.get(session_key__in=key_hashes(key))
    left = row.expire_date - timezone.now()
    assert datetime.timedelta(minutes=29) < left <= datetime.timedelta(minutes=30)

    BrowserSession.objects.filter(pk=row.pk).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert not _opens_a_page(key)


def test_a_request_pushes_the_idle_end_back(client_for, settings):
    settings.SESSION_IDLE_MINUTES = 30
    key = client_for("staff").cookies["sessionid"].value
    BrowserSession.objects.filter(session_key__in=key_hashes(key)).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=5)
    )

    assert _opens_a_page(key)

    row = BrowserSession.objects.get(session_key__in=key_hashes(key))
    assert row.expire_date - timezone.now() > datetime.timedelta(minutes=29)


def test_a_session_ends_at_its_absolute_age_however_busy(client_for, settings):
    settings.SESSION_MAX_HOURS = 12
    key = client_for("staff").cookies["sessionid"].value
    store = SessionStore(key)
    store[STARTED] = store[STARTED] - 12 * 3600 - 1
    store.save()
    BrowserSession.objects.filter(session_key__in=key_hashes(key)).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=30)
    )

    assert not _opens_a_page(key)


def test_a_session_made_close_to_its_absolute_age_ends_with_it(client_for, settings):
    settings.SESSION_MAX_HOURS = 1
    key = client_for("staff").cookies["sessionid"].value
    store = SessionStore(key)
    store[STARTED] = store[STARTED] - 3600 + 60
    store.save()

    row = BrowserSession.objects.get(session_key__in=key_hashes(key))
    assert row.expire_date - timezone.now() <= datetime.timedelta(minutes=1)


def test_sessions_survive_a_rotation_of_the_encryption_keys(client_for, settings):
    key = client_for("staff").cookies["sessionid"].value
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]

    assert _opens_a_page(key)


def test_a_session_under_a_removed_encryption_key_is_signed_out_not_an_error(client_for, settings):
    key = client_for("staff").cookies["sessionid"].value
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    browser = Client()
    browser.cookies["sessionid"] = key
    assert browser.get(INDEX).status_code == 302


def test_sessions_survive_a_rotation_of_the_secret_key(client_for, settings):
    key = client_for("staff").cookies["sessionid"].value
    old_hash = key_hashes(key)[0]
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-this-test-only-0123456789-abcdefghijkl"
    browser = Client()
    browser.cookies["sessionid"] = key

    assert browser.get(INDEX).status_code == 200

    # Filed under the new key (Django's auth also gives the session a new key then).
    assert not BrowserSession.objects.filter(pk=old_hash).exists()
    now_key = browser.cookies["sessionid"].value
    assert BrowserSession.objects.filter(pk=key_hashes(now_key)[0]).exists()
    assert BrowserSession.objects.count() == 1


def test_a_timeout_setting_that_is_not_positive_names_itself(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.SESSION_IDLE_MINUTES = 0
    with pytest.raises(ImproperlyConfigured, match="SESSION_IDLE_MINUTES"):
        sessions.idle_seconds()


def test_signing_out_every_session_of_a_user_reads_the_encrypted_rows(client_for, make_user):
    from accounts.services import sessions_end

    client = client_for("staff")

    assert sessions_end(user=client.user) == 1
    assert client.get(reverse("admin:index")).status_code == 302
