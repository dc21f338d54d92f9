import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command


def test_initial_superuser_is_created_once_with_a_one_time_password(db, capsys, settings):
    settings.INITIAL_SUPERUSER_USERNAME = "kim"
    call_command("ensure_initial_superuser")
    first = capsys.readouterr().out
    password = re.search(r"one-time password: (\S+)", first).group(1)
    user = get_user_model().objects.get(username="kim")
    assert user.is_superuser and user.check_password(password)

    call_command("ensure_initial_superuser")
    second = capsys.readouterr().out
    assert "nothing to do" in second
    assert password not in second
    assert get_user_model().objects.count() == 1


def test_initial_superuser_takes_its_name_from_the_username_option_first(db, capsys, settings):
    settings.INITIAL_SUPERUSER_USERNAME = "kim"
    call_command("ensure_initial_superuser", "--username", "lee")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["lee"]
    assert "walks you through" in capsys.readouterr().out


def test_initial_superuser_without_a_name_stops_and_names_the_option_and_setting(db, settings):
    settings.INITIAL_SUPERUSER_USERNAME = ""
    with pytest.raises(CommandError, match="--username NAME, or set INITIAL_SUPERUSER_USERNAME"):
        call_command("ensure_initial_superuser")
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("name", ["no spaces please", "x" * 151, "semi;colon"])
def test_initial_superuser_refuses_a_name_django_would_refuse(db, name):
    with pytest.raises(CommandError, match="cannot be a user name"):
        call_command("ensure_initial_superuser", "--username", name)
    assert not get_user_model().objects.exists()


def test_initial_superuser_refuses_the_name_of_an_existing_ordinary_user(db, make_user):
    make_user("Staff", username="kim")
    with pytest.raises(CommandError, match="exists but is not a superuser"):
        call_command("ensure_initial_superuser", "--username", "kim")
