import re

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from customers.models import Invitation, token_hash


def test_site_invite_prints_the_link_and_emails_it(site, capsys, settings):
    settings.WAREHOUSE_URL = "https://warehouse.example.com/"
    call_command("site_invite", "acme", "anna@example.com")
    out = capsys.readouterr().out.strip()
    (token,) = re.fullmatch(r"https://warehouse\.example\.com/invitations/(\S+)/", out).groups()
    assert Invitation.objects.get().token_hash == token_hash(token)
    assert out in mail.outbox[0].body


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nope", "anna@example.com"], "No Site has the code"),
        (["acme", "not-an-address"], "is not an email address"),
        (["acme", "a" * 250 + "@example.com"], "longer than 254"),
    ],
)
def test_site_invite_refuses_bad_arguments_plainly(site, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("site_invite", *arguments)
    assert not Invitation.objects.exists()
