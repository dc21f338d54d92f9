"""django-axes never keeps a name that is no account's: it may be a password (issue 23)."""

import logging

from axes.models import AccessAttempt, AccessLog
from django.urls import reverse

LOGIN = reverse("admin:login")
TYPED_PASSWORD = "Correct-Horse-Battery-9"


def _stored_text() -> str:
    rows = [
        *AccessAttempt.objects.values_list("username", "get_data", "post_data"),
        *AccessLog.objects.values_list("username"),
    ]
    return " ".join(str(value) for row in rows for value in row)


def test_a_password_typed_as_the_username_is_neither_stored_nor_logged(client, make_user, caplog):
    make_user("Staff")
    with caplog.at_level(logging.DEBUG):
        for _ in range(6):
            response = client.post(LOGIN, {"username": TYPED_PASSWORD, "password": "x"})
    # Still counted: the sixth try is refused without a look at the password.
    assert response.status_code == 429
    assert AccessAttempt.objects.exists()
    assert TYPED_PASSWORD not in _stored_text()
    assert TYPED_PASSWORD not in caplog.text
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username.startswith("unknown:") and attempt.failures_since_start == 5


def test_an_accounts_failures_count_under_its_login_name_in_any_case_of_its_address(
    client, make_user
):
    user = make_user("Staff")
    user.email = "sam@imagatec.example"
    user.save()
    for typed in ["Sam@Imagatec.example", "SAM@IMAGATEC.EXAMPLE", "sam@imagatec.example"]:
        client.post(LOGIN, {"username": typed, "password": "wrong"})
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username == user.username and attempt.failures_since_start == 3


def test_the_lockout_page_repeats_the_name_as_typed_only(client, make_user):
    make_user("Staff")
    for _ in range(6):
        response = client.post(LOGIN, {"username": "no-such-person", "password": "x"})
    assert response.status_code == 429
    assert "no-such-person" in response.text and "unknown:" not in response.text
