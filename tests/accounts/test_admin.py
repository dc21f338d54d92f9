"""A superuser resets another user's second factor from the Users list."""

import pytest
from django.urls import reverse

from accounts.models import RecoveryCode, TOTPDevice
from accounts.services import recovery_codes_replace
from tests.second_factor import totp_code
from warehouse import signals

USERS = reverse("admin:auth_user_changelist")
RESET = "reset_second_factor"


def reset(client, *users):
    return client.post(
        USERS, {"action": RESET, "_selected_action": [u.pk for u in users]}, follow=True
    )


def test_the_users_list_shows_who_has_a_second_factor(client_for, make_user):
    client = client_for("superuser")
    make_user("Staff", username="without-one", second_factor=False)
    page = client.get(USERS).text
    assert "Second factor" in page and "without-one" in page


def test_a_superuser_resets_another_users_second_factor_and_it_is_recorded(client_for, make_user):
    recorded = []

    def on_reset(sender, user, by, **kwargs):
        recorded.append((user, by))

    signals.second_factor_reset.connect(on_reset)
    try:
        boss = client_for("superuser")
        user = make_user("Staff")
        recovery_codes_replace(user=user)
        response = reset(boss, user)
    finally:
        signals.second_factor_reset.disconnect(on_reset)
    assert "Reset the second factor of 1 user" in response.text
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert recorded == [(user, boss.user)]


def test_a_reset_signs_out_the_users_open_sessions_and_no_one_elses(client_for, make_user, log_in):
    # A reset follows a lost or stolen device: a session open on it must not enrol a new
    # authenticator without the password.
    from django.test import Client

    user, colleague = make_user("Staff"), make_user("Staff")
    theirs, colleagues = log_in(Client(), user), log_in(Client(), colleague)
    assert theirs.get(reverse("admin:index")).status_code == 200

    reset(client_for("superuser"), user)

    response = theirs.get(reverse("admin:second_factor_enrol"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("admin:login"))
    assert colleagues.get(reverse("admin:index")).status_code == 200


def test_a_superuser_cannot_reset_their_own_second_factor_here(client_for):
    boss = client_for("superuser")
    response = reset(boss, boss.user)
    assert "ask another superuser" in response.text
    assert TOTPDevice.objects.filter(user=boss.user).exists()


@pytest.mark.parametrize("role", ["admins", "staff", "support"])
def test_only_superusers_may_reset(client_for, make_user, role):
    client = client_for(role)
    user = make_user("Staff")
    response = client.post(USERS, {"action": RESET, "_selected_action": [user.pk]})
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=user).exists()


def test_the_reset_user_can_enrol_and_sign_in_again(client_for, make_user):
    from django.test import Client

    user = make_user("Staff")
    reset(client_for("superuser"), user)
    theirs = Client()
    theirs.force_login(user)
    theirs.get(reverse("admin:second_factor_enrol"))
    device = TOTPDevice.objects.get(user=user)
    response = theirs.post(reverse("admin:second_factor_enrol"), {"code": totp_code(device)})
    assert response.status_code == 200 and "recovery codes" in response.text
    assert theirs.get(reverse("admin:index")).status_code == 200
