import datetime

import pytest
from django.utils import timezone

from accounts.exceptions import (
    SecondFactorAlreadyEnrolled,
    SecondFactorCodeInvalid,
    SecondFactorThrottled,
)
from accounts.models import RecoveryCode, TOTPDevice
from accounts.services import (
    recovery_codes_replace,
    second_factor_enrolment_confirm,
    second_factor_enrolment_start,
    second_factor_reset,
    second_factor_verify,
)
from tests.second_factor import totp_code, wrong_code
from warehouse import signals


@pytest.fixture
def received():
    """The second-factor signals sent during the test, as (signal name, kwargs)."""
    seen = []

    def on_enrolled(sender, **kwargs):
        seen.append(("second_factor_enrolled", kwargs))

    def on_reset(sender, **kwargs):
        seen.append(("second_factor_reset", kwargs))

    signals.second_factor_enrolled.connect(on_enrolled)
    signals.second_factor_reset.connect(on_reset)
    yield seen
    signals.second_factor_enrolled.disconnect(on_enrolled)
    signals.second_factor_reset.disconnect(on_reset)


def test_enrolment_keeps_the_same_key_until_it_is_confirmed(make_user):
    user = make_user("Staff", second_factor=False)
    first = second_factor_enrolment_start(user=user)
    again = second_factor_enrolment_start(user=user)
    assert first.pk == again.pk and not again.confirmed


def test_a_wrong_first_code_leaves_the_device_unconfirmed(make_user):
    user = make_user("Staff", second_factor=False)
    device = second_factor_enrolment_start(user=user)
    with pytest.raises(SecondFactorCodeInvalid):
        second_factor_enrolment_confirm(
            device=device, code=wrong_code(TOTPDevice.objects.get(pk=device.pk))
        )
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert not RecoveryCode.objects.exists()


def test_the_first_code_confirms_and_makes_ten_recovery_codes_and_tells_the_audit(
    make_user, received
):
    user = make_user("Staff", second_factor=False)
    device = second_factor_enrolment_start(user=user)
    codes = second_factor_enrolment_confirm(
        device=device, code=totp_code(TOTPDevice.objects.get(pk=device.pk))
    )
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert len(codes) == 10 and RecoveryCode.objects.filter(user=user).count() == 10
    assert received == [
        (
            "second_factor_enrolled",
            {"signal": signals.second_factor_enrolled, "user": user, "by": user},
        )
    ]


def test_enrolling_twice_is_refused(make_user):
    user = make_user("Staff")
    with pytest.raises(SecondFactorAlreadyEnrolled):
        second_factor_enrolment_start(user=user)


def test_verify_takes_the_authenticators_code(make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    verified, recovery = second_factor_verify(user=user, code=totp_code(device))
    assert verified.pk == device.pk and recovery is False


def test_a_recovery_code_works_once(make_user):
    user = make_user("Staff")
    (code, *_) = recovery_codes_replace(user=user)
    assert second_factor_verify(user=user, code=code)[1] is True
    assert RecoveryCode.objects.filter(user=user).unused().count() == 9
    with pytest.raises(SecondFactorCodeInvalid):
        second_factor_verify(user=user, code=code)


def test_another_users_recovery_code_is_refused(make_user):
    kim, lee = make_user("Staff"), make_user("Staff")
    (code, *_) = recovery_codes_replace(user=lee)
    with pytest.raises(SecondFactorCodeInvalid):
        second_factor_verify(user=kim, code=code)


def test_another_users_authenticator_code_is_refused(make_user):
    kim, lee = make_user("Staff"), make_user("Staff")
    with pytest.raises(SecondFactorCodeInvalid):
        second_factor_verify(user=kim, code=totp_code(TOTPDevice.objects.get(user=lee)))


def test_after_a_wrong_code_even_the_right_one_waits_for_the_throttle(make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    with pytest.raises(SecondFactorCodeInvalid):
        second_factor_verify(user=user, code=wrong_code(device))
    with pytest.raises(SecondFactorThrottled) as throttled:
        second_factor_verify(user=user, code=totp_code(device))

    assert "no code is taken for 1 second" in throttled.value.message
    # Counted although the failure rolled its transaction back.
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 1


def test_each_wrong_code_in_a_row_doubles_the_wait_and_the_right_one_ends_it(make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    for _ in range(3):
        # As if the wait had passed: only the count of wrong codes in a row is kept.
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_timestamp=timezone.now() - datetime.timedelta(hours=1)
        )
        with pytest.raises(SecondFactorCodeInvalid):
            second_factor_verify(user=user, code=wrong_code(device))
    with pytest.raises(SecondFactorThrottled) as throttled:
        second_factor_verify(user=user, code=totp_code(device))
    assert "no code is taken for 4 seconds" in throttled.value.message

    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - datetime.timedelta(hours=1)
    )
    second_factor_verify(user=user, code=totp_code(device))

    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == 0


def test_a_user_without_an_authenticator_cannot_verify(make_user):
    with pytest.raises(SecondFactorCodeInvalid):
        second_factor_verify(user=make_user("Staff", second_factor=False), code="123456")


def test_reset_removes_the_device_and_codes_and_tells_the_audit_who_did_it(make_user, received):
    user, boss = make_user("Staff"), make_user(superuser=True)
    recovery_codes_replace(user=user)
    second_factor_reset(user=user, by=boss)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert TOTPDevice.objects.filter(user=boss).exists()
    assert received == [
        ("second_factor_reset", {"signal": signals.second_factor_reset, "user": user, "by": boss})
    ]


def test_after_a_reset_the_user_enrols_a_new_key(make_user):
    user, boss = make_user("Staff"), make_user(superuser=True)
    old_key = TOTPDevice.objects.get(user=user).key
    second_factor_reset(user=user, by=boss)
    assert second_factor_enrolment_start(user=user).key != old_key
