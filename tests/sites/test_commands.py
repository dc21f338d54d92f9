import re

from django.contrib.auth import get_user_model
from django.core.management import call_command


def test_initial_superuser_is_created_once_with_a_one_time_password(db, capsys):
    call_command("ensure_initial_superuser")
    first = capsys.readouterr().out
    password = re.search(r"one-time password: (\S+)", first).group(1)
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)

    call_command("ensure_initial_superuser")
    second = capsys.readouterr().out
    assert "nothing to do" in second
    assert password not in second
    assert get_user_model().objects.count() == 1
