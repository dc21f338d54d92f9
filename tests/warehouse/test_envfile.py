import getpass

import pytest

from warehouse import envfile


def test_the_env_file_names_the_first_superuser_after_the_login_name(monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "kim.lee")
    assert "INITIAL_SUPERUSER_USERNAME=kim.lee\n" in envfile.render_env_file()


@pytest.mark.parametrize("login", ["root", "", "!!!"])
def test_a_login_name_that_would_not_do_gives_a_random_name_not_admin(monkeypatch, login):
    monkeypatch.setattr(getpass, "getuser", lambda: login)
    name = envfile.initial_superuser_username()
    assert name.startswith("warehouse-") and len(name) == len("warehouse-") + 6


def test_a_login_name_is_stripped_of_what_django_refuses_in_user_names(monkeypatch):
    monkeypatch.setattr(getpass, "getuser", lambda: "kim lee;rm")
    assert envfile.initial_superuser_username() == "kimleerm"


def test_no_login_name_at_all_still_gives_a_name(monkeypatch):
    def no_user():
        raise KeyError("uid not in passwd")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert envfile.initial_superuser_username().startswith("warehouse-")
