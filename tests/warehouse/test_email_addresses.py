"""One normal form of email addresses, for every comparison the Warehouse makes."""

import pytest
from django.contrib.auth.validators import UnicodeUsernameValidator

from warehouse.email_addresses import normal_form, same_address, username_for

KELVIN_SIGN = "\u212a"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Carol.Customer@Example.com", "carol.customer@example.com"),
        ("sam@bücher.example", "sam@xn--bcher-kva.example"),
        ("sam@BÜCHER.EXAMPLE", "sam@bücher.example"),
        (f"{KELVIN_SIGN}ate@imagatec.example", "kate@imagatec.example"),
        ("  anna@example.com ", "ANNA@EXAMPLE.COM"),
        ("ａｎｎａ@example.com", "anna@example.com"),  # full-width letters (NFKC)
    ],
)
def test_addresses_of_one_mailbox_have_one_normal_form(first, second):
    assert same_address(first, second)
    assert normal_form(first) == normal_form(second)


def test_different_mailboxes_stay_different():
    assert not same_address("anna@example.com", "anna@example.org")
    assert not same_address("o'brien@example.com", "o_brien@example.com")


@pytest.mark.parametrize(
    "address",
    [
        "o'brien@example.com",
        f"{KELVIN_SIGN}ate@example.com",
        "sam@bücher.example",
        "first.last+tag@sub.example.co.uk",
        "x" * 64 + "@" + "d" * 60 + ".example.com",
        "a{b}c|d~e#f$g%h&i*j=k?l^m`n!o/p@example.com",
    ],
)
def test_every_address_makes_a_valid_login_name(address):
    username = username_for(address)
    UnicodeUsernameValidator()(username)
    assert 0 < len(username) <= 150
