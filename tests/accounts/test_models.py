import time
from base64 import b32decode
from binascii import hexlify
from urllib.parse import parse_qs, urlparse

from django.db import connection

from accounts.models import (
    RecoveryCode,
    TOTPDevice,
    normalise_recovery_code,
    recovery_code_hashes,
)
from accounts.services import recovery_codes_replace
from tests.second_factor import add_device, totp_code


def test_the_authenticator_key_is_stored_encrypted(make_user):
    device = add_device(make_user("Staff", second_factor=False))
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_totpdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    key = TOTPDevice.objects.get(pk=device.pk).key
    assert key not in stored and device.secret_base32 not in stored
    assert stored.startswith("gAAAAA")


def test_the_key_is_read_only_when_a_code_is_checked(make_user):
    device = add_device(make_user("Staff", second_factor=False))
    loaded = TOTPDevice.objects.get(pk=device.pk)
    assert "key" in loaded.get_deferred_fields()


def test_the_secret_and_the_qr_url_carry_the_same_key(make_user, settings):
    settings.OTP_TOTP_ISSUER = "Warehouse"
    device = add_device(make_user("Staff", username="kim", second_factor=False))
    assert hexlify(b32decode(device.secret_base32)).decode() == device.key
    url = urlparse(device.config_url)
    assert (url.scheme, url.netloc, url.path) == ("otpauth", "totp", "/Warehouse%3Akim")
    query = parse_qs(url.query)
    assert query["secret"] == [device.secret_base32]
    assert query["issuer"] == ["Warehouse"] and query["digits"] == ["6"]


def test_a_code_is_accepted_once_and_the_next_steps_code_after_it(make_user):
    device = add_device(make_user("Staff", second_factor=False))
    code = totp_code(device)
    assert device.verify_token(code)
    assert not device.verify_token(code)
    assert device.verify_token(totp_code(device, steps=1))


def test_codes_from_far_in_the_past_or_future_are_refused(make_user):
    device = add_device(make_user("Staff", second_factor=False))
    assert not device.verify_token(totp_code(device, steps=-3))
    assert not device.verify_token(totp_code(device, steps=3))


def test_a_code_that_is_not_six_digits_is_refused_without_error(make_user):
    device = add_device(make_user("Staff", second_factor=False))
    for code in ["", "12345", "1234567", "abcdef", "12 34 56", "１２３４５６"]:
        assert not device.verify_token(code)


def test_recovery_codes_are_stored_only_as_keyed_hashes(make_user):
    user = make_user("Staff")
    codes = recovery_codes_replace(user=user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    for code in codes:
        assert all(normalise_recovery_code(code) not in h for h in stored)
        assert recovery_code_hashes(code)[0] in stored


def test_a_recovery_code_still_matches_after_the_secret_key_rotates(make_user, settings):
    user = make_user("Staff")
    (code, *_) = recovery_codes_replace(user=user)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert RecoveryCode.objects.filter(user=user).matching(code.upper()) is not None


def test_a_recovery_code_is_typed_with_or_without_its_dash_and_in_any_case(make_user):
    user = make_user("Staff")
    (code, *_) = recovery_codes_replace(user=user)
    codes = RecoveryCode.objects.filter(user=user)
    for typed in [code, code.replace("-", ""), code.upper(), f" {code[:5]} {code[6:]} "]:
        assert codes.matching(typed) is not None
    assert codes.matching("aaaaa-aaaaa") is None


def test_totp_codes_change_every_thirty_seconds(make_user):
    device = add_device(make_user("Staff", second_factor=False))
    now = time.time() // 30 * 30
    assert device.totp(now=now).token() == device.totp(now=now + 29).token()
    assert device.totp(now=now).t() + 1 == device.totp(now=now + 30).t()
