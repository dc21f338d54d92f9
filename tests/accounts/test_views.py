"""The second-factor pages: enrolment, the code after the password, lockouts."""

import logging
import re

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.urls import reverse

from accounts.models import RecoveryCode, TOTPDevice
from tests.conftest import sqlite_files_bytes
from tests.second_factor import PASSWORD, totp_code, wrong_code

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")
VERIFY = reverse("admin:second_factor")
ENROL = reverse("admin:second_factor_enrol")
SITES = reverse("admin:sites_site_changelist")


def sign_in(client, user, password=PASSWORD, **extra):
    return client.post(
        LOGIN, {"username": user.username, "password": password, "next": SITES}, **extra
    )


def enrol(client, user):
    """Enrol through the page; returns the recovery codes it showed."""
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user)
    response = client.post(ENROL, {"code": totp_code(device), "next": SITES})
    assert response.status_code == 200
    return re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.text)


# Enrolment


def test_a_user_without_an_authenticator_is_sent_to_enrol_after_the_password(client, make_user):
    user = make_user("Staff", second_factor=False)
    response = sign_in(client, user)
    assert response.status_code == 302
    assert response.url == f"{ENROL}?next={SITES.replace('/', '%2F')}"


def test_the_enrolment_page_shows_a_qr_code_and_the_key_as_text(client, make_user):
    user = make_user("Staff", second_factor=False)
    sign_in(client, user)
    response = client.get(ENROL)
    device = TOTPDevice.objects.get(user=user)
    assert response.status_code == 200
    assert "<svg" in response.text and 'id="enrol-qr"' in response.text
    assert device.secret_base32 in response.text
    assert "<script>" not in response.text
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_wrong_first_code_says_so_and_enrols_nothing(client, make_user):
    user = make_user("Staff", second_factor=False)
    sign_in(client, user)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user)
    response = client.post(ENROL, {"code": wrong_code(device)})
    assert "That code is not right" in response.text
    assert not TOTPDevice.objects.get(user=user).confirmed
    assert client.get(SITES).status_code == 302


def test_enrolment_shows_ten_recovery_codes_once_and_then_the_pages_open(client, make_user):
    user = make_user("Staff", second_factor=False)
    sign_in(client, user)
    codes = enrol(client, user)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(SITES).status_code == 200
    # Never shown again, and the key neither.
    secret = TOTPDevice.objects.get(user=user).secret_base32
    for url in [ENROL, VERIFY]:
        response = client.get(url, follow=True)
        assert not any(code in response.text for code in codes)
        assert secret not in response.text


@pytest.mark.django_db(transaction=True)
def test_the_recovery_codes_and_key_are_nowhere_in_the_database_files(client, make_user):
    user = make_user("Staff", second_factor=False)
    sign_in(client, user)
    codes = enrol(client, user)
    device = TOTPDevice.objects.get(user=user)
    secrets = [device.key, device.secret_base32, *codes, *(c.replace("-", "") for c in codes)]
    columns = ""
    with connection.cursor() as cursor:
        for query in [
            "SELECT key FROM accounts_totpdevice",
            "SELECT code_hash FROM accounts_recoverycode",
        ]:
            cursor.execute(query)
            columns += " ".join(str(row) for row in cursor.fetchall())
    assert not any(secret in columns for secret in secrets)
    if connection.vendor != "sqlite":
        return
    path = connection.settings_dict["NAME"]
    connection.close()
    # With write-ahead logging, recent pages may sit in the -wal file beside it.
    data = sqlite_files_bytes(path).lower()
    assert user.username.encode() in data  # the rows really are in these files
    for secret in secrets:
        assert secret.lower().encode() not in data


def test_a_user_who_has_enrolled_cannot_open_the_enrolment_page_again(client_for):
    client = client_for("staff")
    response = client.get(ENROL)
    assert response.status_code == 302 and response.url == VERIFY
    assert client.get(VERIFY).status_code == 302


def test_until_enrolled_every_page_sends_the_user_back_to_enrolment(client_for, site):
    client = client_for("admins", second_factor="not_enrolled")
    for url in [INDEX, SITES, reverse("xero:setup", args=[site.code]), reverse("xero:health")]:
        response = client.get(url, follow=True)
        assert response.redirect_chain[-1][0].startswith(ENROL), url
        assert response.status_code == 200


# The code after the password


def test_an_enrolled_user_types_a_code_after_the_password(client, make_user):
    user = make_user("Staff")
    response = sign_in(client, user)
    assert response.url.startswith(VERIFY)
    assert client.get(SITES).status_code == 302
    response = client.post(
        VERIFY, {"code": totp_code(TOTPDevice.objects.get(user=user)), "next": SITES}
    )
    assert response.status_code == 302 and response.url == SITES
    assert client.get(SITES).status_code == 200


def test_a_code_is_accepted_only_once(client, make_user):
    user = make_user("Staff")
    code = totp_code(TOTPDevice.objects.get(user=user))
    sign_in(client, user)
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.post(reverse("admin:logout"))
    sign_in(client, user)
    response = client.post(VERIFY, {"code": code})
    assert response.status_code == 200 and "That code is not right" in response.text


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(client, make_user):
    user = make_user("Staff", second_factor=False)
    sign_in(client, user)
    codes = enrol(client, user)
    client.post(reverse("admin:logout"))
    sign_in(client, user)
    response = client.post(VERIFY, {"code": codes[3], "next": SITES}, follow=True)
    assert response.redirect_chain[-1][0] == SITES
    assert "9 left" in response.text
    client.post(reverse("admin:logout"))
    sign_in(client, user)
    response = client.post(VERIFY, {"code": codes[3]})
    assert "That code is not right" in response.text
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=False).count() == 1


def test_next_never_leads_off_the_site(client, make_user):
    user = make_user("Staff")
    sign_in(client, user)
    response = client.post(
        VERIFY,
        {"code": totp_code(TOTPDevice.objects.get(user=user)), "next": "https://evil.example.com/"},
    )
    assert response.url == INDEX


def test_the_second_factor_pages_need_a_password_sign_in_first(client):
    for url in [VERIFY, ENROL]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(LOGIN)


def test_a_user_stopped_at_the_second_factor_can_log_out(client, make_user):
    user = make_user("Staff")
    sign_in(client, user)
    response = client.post(reverse("admin:second_factor_log_out"))
    assert response.url == LOGIN
    assert client.get(VERIFY).url.startswith(LOGIN)


def test_the_second_factor_page_is_refused_to_a_user_without_staff_status(client, make_user):
    user = make_user("Staff")
    user.is_staff = False
    user.save()
    client.force_login(user)
    assert client.get(VERIFY).url.startswith(LOGIN)


def test_a_right_code_straight_after_a_wrong_one_is_told_to_wait(client, make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    sign_in(client, user)
    client.post(VERIFY, {"code": wrong_code(device)})

    response = client.post(VERIFY, {"code": totp_code(device)})

    assert response.status_code == 200
    assert "Too many wrong codes in a row" in response.text
    assert client.get(SITES).status_code == 302


# Lockouts


def test_five_wrong_codes_lock_the_account_out_and_say_until_when(client, make_user, caplog):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    sign_in(client, user)
    for _ in range(4):
        assert client.post(VERIFY, {"code": wrong_code(device)}).status_code == 200
    with caplog.at_level(logging.WARNING, logger="warehouse.accounts.lockout"):
        response = client.post(VERIFY, {"code": wrong_code(device)})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text
    assert 'id="retry-at"' in response.text and "15" in response.text
    assert f"Locked out: username '{user.username}' from 127.0.0.1 until" in caplog.text


def test_when_locked_out_the_right_code_is_refused_without_being_checked(
    client, make_user, monkeypatch
):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    sign_in(client, user)
    for _ in range(5):
        client.post(VERIFY, {"code": wrong_code(device)})
    checked = []
    monkeypatch.setattr(TOTPDevice, "verify_token", lambda *a, **k: checked.append(a) or True)
    response = client.post(VERIFY, {"code": totp_code(device)})
    assert response.status_code == 429 and checked == []
    assert client.get(SITES).status_code == 302


def test_the_sixth_wrong_password_is_refused_without_checking_it(client, make_user, monkeypatch):
    from django.contrib.auth.models import User

    user = make_user("Staff")
    for _ in range(5):
        sign_in(client, user, password="wrong-password")
    checked = []
    original = User.check_password
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: checked.append(raw) or original(self, raw)
    )
    response = sign_in(client, user)
    assert response.status_code == 429 and checked == []
    assert "_auth_user_id" not in client.session


def test_password_and_code_failures_count_together(client, make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    for _ in range(3):
        sign_in(client, user, password="wrong-password")
    sign_in(client, user)
    client.post(VERIFY, {"code": wrong_code(device)})
    assert client.post(VERIFY, {"code": wrong_code(device)}).status_code == 429


def test_a_forged_forwarded_for_header_does_not_escape_a_lockout(client, make_user):
    user = make_user("Staff")
    for n in range(5):
        sign_in(client, user, password="wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert sign_in(client, user, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_a_lockout_is_for_that_username_from_that_address_only(client, make_user):
    kim, lee = make_user("Staff"), make_user("Staff")
    for _ in range(5):
        sign_in(client, kim, password="wrong")
    assert sign_in(client, lee).status_code == 302
    assert sign_in(client, kim, REMOTE_ADDR="192.0.2.7").status_code == 302


def test_the_failed_attempts_keep_no_code_or_password(client, make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    sign_in(client, user, password="wrong-password-9")
    sign_in(client, user)
    code = wrong_code(device)
    client.post(VERIFY, {"code": code})
    stored = " ".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "wrong-password-9" not in stored and code not in stored


def test_a_full_sign_in_forgets_the_earlier_failures(client, make_user):
    user = make_user("Staff")
    for _ in range(4):
        sign_in(client, user, password="wrong")
    sign_in(client, user)
    client.post(VERIFY, {"code": totp_code(TOTPDevice.objects.get(user=user))})
    assert not AccessAttempt.objects.filter(username=user.username).exists()


def test_a_superuser_lifts_a_lockout_from_the_admin(client, make_user, client_for):
    from django.test import Client

    user = make_user("Staff")
    locked = Client()
    for _ in range(5):
        sign_in(locked, user, password="wrong")
    assert sign_in(locked, user).status_code == 429
    boss = client_for("superuser")
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert user.username in boss.get(changelist).text
    attempt = AccessAttempt.objects.get(username=user.username)
    response = boss.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert sign_in(locked, user).status_code == 302


def test_only_superusers_see_the_lockouts(client_for):
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert client_for("admins").get(changelist).status_code == 403


def test_the_first_superuser_is_walked_through_enrolment_at_first_sign_in(db, client, capsys):
    from django.core.management import call_command

    call_command("ensure_initial_superuser", "--username", "kim")
    password = re.search(r"one-time password: (\S+)", capsys.readouterr().out).group(1)
    response = client.post(LOGIN, {"username": "kim", "password": password}, follow=True)
    assert response.redirect_chain[-1][0].startswith(ENROL)
    assert "Set up your second factor" in response.text
