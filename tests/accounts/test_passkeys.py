"""Passkeys (accounts/passkeys.py): added from the account, used after the password, removed;
each ceremony checked by the library's real verification against a software passkey."""

import re

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from accounts.checks import check_passkey_relying_party
from accounts.models import RecoveryCode, TOTPDevice
from accounts.services import second_factor_reset
from sites.models import AuditEntry
from tests.passkeys import SoftPasskey
from tests.second_factor import PASSWORD

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")
SITES = reverse("admin:sites_site_changelist")
VERIFY = reverse("admin:second_factor")
PASSKEYS = reverse("admin:passkeys")
ADD_BEGIN = reverse("admin:passkey_register_begin")
ADD_COMPLETE = reverse("admin:passkey_register_complete")
USE_BEGIN = reverse("admin:passkey_verify_begin")
USE_COMPLETE = reverse("admin:passkey_verify_complete")


def add_passkey(client, passkey=None) -> SoftPasskey:
    passkey = passkey or SoftPasskey()
    options = client.post(ADD_BEGIN).json()
    response = client.post(ADD_COMPLETE, passkey.create(options), content_type="application/json")
    assert response.status_code == 200, response.content
    return passkey


def use_passkey(client, passkey, *, next_url=SITES, **answer):
    options = client.post(USE_BEGIN).json()
    return client.post(
        f"{USE_COMPLETE}?next={next_url}",
        passkey.get(options, **answer),
        content_type="application/json",
    )


def sign_in_with_password(client, user):
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith(VERIFY)


def is_verified(client) -> bool:
    return client.get(INDEX).status_code == 200


@pytest.fixture
def user_with_passkey(client, make_user, log_in):
    """A Staff member who added a passkey (then signed out): ``(user, passkey)``."""
    user = make_user("Staff")
    log_in(client, user)
    passkey = add_passkey(client)
    client.logout()
    return user, passkey


# Adding


def test_a_verified_user_adds_a_passkey_from_the_account_page_and_the_trail_records_it(
    client, make_user, log_in
):
    user = make_user("Staff")
    log_in(client, user)
    page = client.get(PASSKEYS)
    assert page.status_code == 200 and "You have no passkey yet." in page.text
    add_passkey(client)

    passkey = WebAuthnCredential.objects.get(user=user)
    page = client.get(PASSKEYS)
    assert passkey.name in page.text and "Passkey added." in page.text
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.PASSKEY_ADDED)
    assert entry.actor == user and passkey.name in entry.summary


def test_the_pages_run_the_librarys_script_from_static_files_and_no_inline_script(
    client, user_with_passkey
):
    user, _ = user_with_passkey
    sign_in_with_password(client, user)
    page = client.get(VERIFY)
    scripts = re.findall(r"<script([^>]*)>", page.text)
    assert any("otp_webauthn_auth.js" in attributes for attributes in scripts)
    # Each script is a file of ours, or the endpoints as JSON data (never run).
    assert all(
        'src="/static/' in attributes or 'type="application/json"' in attributes
        for attributes in scripts
    )
    assert USE_BEGIN in page.text
    assert "script-src 'self'" in page["Content-Security-Policy"]


def test_the_second_factor_page_offers_a_passkey_only_to_users_who_have_one(client, make_user):
    user = make_user("Staff")
    sign_in_with_password(client, user)
    page = client.get(VERIFY)
    assert "Use a passkey" not in page.text and "otp_webauthn" not in page.text


def test_a_user_who_passed_the_password_only_cannot_add_a_passkey(client, make_user, log_in):
    user = make_user("Staff")
    log_in(client, user, verify=False)
    begin = client.post(ADD_BEGIN)
    complete = client.post(ADD_COMPLETE, {}, content_type="application/json")
    assert begin.status_code == complete.status_code == 302
    assert not WebAuthnCredential.objects.exists()


def test_a_user_without_an_authenticator_cannot_add_a_passkey_instead(client, make_user, log_in):
    user = make_user("Staff", second_factor=False)
    log_in(client, user, verify=False)
    assert client.post(ADD_BEGIN).status_code == 302
    assert not WebAuthnCredential.objects.exists()


# Signing in


def test_a_passkey_after_the_password_passes_the_second_factor_with_a_new_session_key(
    client, user_with_passkey
):
    user, passkey = user_with_passkey
    sign_in_with_password(client, user)
    key_after_password = client.session.session_key
    assert not is_verified(client)

    page = client.get(VERIFY)
    assert "Use a passkey" in page.text
    response = use_passkey(client, passkey)

    assert response.status_code == 200
    assert response.json()["redirect_url"] == SITES
    assert client.session.session_key != key_after_password
    assert is_verified(client)
    assert WebAuthnCredential.objects.get(user=user).last_used_at is not None


def test_an_assertion_sent_twice_is_refused_the_second_time(client, user_with_passkey):
    user, passkey = user_with_passkey
    sign_in_with_password(client, user)
    options = client.post(USE_BEGIN).json()
    answer = passkey.get(options)
    assert client.post(USE_COMPLETE, answer, content_type="application/json").status_code == 200
    client.logout()
    sign_in_with_password(client, user)
    replayed = client.post(USE_COMPLETE, answer, content_type="application/json")
    assert replayed.status_code == 400 and replayed.json()["code"] == "invalid_state"
    assert not is_verified(client)


def test_a_signature_made_for_another_origin_is_refused(client, user_with_passkey):
    user, passkey = user_with_passkey
    sign_in_with_password(client, user)
    response = use_passkey(client, passkey, origin="https://warehouse.example.net")
    assert response.status_code == 422
    assert not is_verified(client)


def test_another_users_passkey_does_not_pass_this_users_second_factor(
    client, make_user, user_with_passkey
):
    _, passkey = user_with_passkey
    other = make_user("Staff")
    sign_in_with_password(client, other)
    response = use_passkey(client, passkey)
    assert response.status_code == 403
    assert not is_verified(client)


def test_a_passkey_does_not_sign_in_without_the_password(client, user_with_passkey):
    _, passkey = user_with_passkey
    begin = client.post(USE_BEGIN)
    complete = client.post(USE_COMPLETE, {}, content_type="application/json")
    assert begin.status_code == complete.status_code == 302
    assert begin.url.startswith(LOGIN)
    assert not is_verified(client)


def test_a_locked_out_user_cannot_pass_with_a_passkey_either(client, user_with_passkey, settings):
    user, passkey = user_with_passkey
    sign_in_with_password(client, user)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(VERIFY, {"code": "000000"})
    response = client.post(USE_BEGIN)
    assert response.status_code == 403 and response.json()["code"] == "locked_out"
    assert AccessAttempt.objects.filter(username=user.username).exists()


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", "{}", '{"id": 1}', '{"id": "AAAA", "rawId": "AAAA", "response": {}}'],
)
def test_malformed_answers_are_refused_plainly(client, user_with_passkey, body):
    user, _ = user_with_passkey
    sign_in_with_password(client, user)
    client.post(USE_BEGIN)
    response = client.post(USE_COMPLETE, body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert not is_verified(client)


@pytest.mark.parametrize(
    "body",
    ["not json", "[]", "{}", '{"id": 1}', '{"id": "AAAA", "rawId": "AAAA", "response": {}}'],
)
def test_malformed_new_passkeys_are_refused_plainly(client, make_user, log_in, body):
    log_in(client, make_user("Staff"))
    client.post(ADD_BEGIN)
    response = client.post(ADD_COMPLETE, body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert not WebAuthnCredential.objects.exists()


# Removing, and what stays


def test_removing_a_passkey_keeps_the_authenticator_and_recovery_codes_and_is_audited(
    client, make_user, log_in
):
    user = make_user("Staff")
    RecoveryCode.objects.create(user=user, code_hash="x" * 64)
    log_in(client, user)
    add_passkey(client)
    passkey = WebAuthnCredential.objects.get(user=user)

    response = client.post(reverse("admin:passkey_remove", args=[passkey.pk]), follow=True)

    assert "Passkey removed." in response.text
    assert not WebAuthnCredential.objects.exists()
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert RecoveryCode.objects.filter(user=user).exists()
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.PASSKEY_REMOVED)
    assert entry.actor == user and passkey.name in entry.summary


def test_nobody_removes_another_users_passkey(client, make_user, log_in, user_with_passkey):
    owner, _ = user_with_passkey
    passkey = WebAuthnCredential.objects.get(user=owner)
    log_in(client, make_user("Admins"))
    response = client.post(reverse("admin:passkey_remove", args=[passkey.pk]), follow=True)
    assert "That passkey is not one of yours" in response.text
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()
    assert not AuditEntry.objects.filter(kind=AuditEntry.Kind.PASSKEY_REMOVED).exists()


def test_a_second_factor_reset_removes_the_users_passkeys(make_user, user_with_passkey):
    user, _ = user_with_passkey
    second_factor_reset(user=user, by=make_user(superuser=True))
    assert not WebAuthnCredential.objects.filter(user=user).exists()


def test_the_code_still_passes_the_second_factor_for_a_user_with_a_passkey(
    client, user_with_passkey
):
    from tests.second_factor import pass_second_factor

    user, _ = user_with_passkey
    sign_in_with_password(client, user)
    pass_second_factor(client, user, steps=1)
    assert is_verified(client)


def test_removing_the_passkey_this_session_passed_with_keeps_the_session_signed_in(
    client, user_with_passkey
):
    user, passkey = user_with_passkey
    sign_in_with_password(client, user)
    assert use_passkey(client, passkey).status_code == 200
    credential = WebAuthnCredential.objects.get(user=user)

    response = client.post(reverse("admin:passkey_remove", args=[credential.pk]))

    assert response.status_code == 302 and response.url == PASSKEYS
    assert is_verified(client)


# Settings


def test_the_default_relying_party_is_localhost_which_browsers_take_unlike_127_0_0_1(settings):
    assert settings.WAREHOUSE_URL == "http://127.0.0.1:8000"
    assert settings.OTP_WEBAUTHN_RP_ID == "localhost"
    assert settings.OTP_WEBAUTHN_ALLOWED_ORIGINS == ["http://localhost:8000"]
    assert check_passkey_relying_party(None) == []


@pytest.mark.parametrize(
    ("rp_id", "origins", "expected"),
    [
        ("127.0.0.1", ["http://127.0.0.1:8000"], ["accounts.E001"]),
        ("example.com", ["https://warehouse.example.net"], ["accounts.E002"]),
        ("example.com", ["https://warehouse.example.com"], []),
    ],
)
def test_a_relying_party_no_browser_would_sign_for_stops_startup(
    settings, rp_id, origins, expected
):
    settings.OTP_WEBAUTHN_RP_ID = rp_id
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = origins
    assert [error.id for error in check_passkey_relying_party(None)] == expected
