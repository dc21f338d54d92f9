"""When two email addresses are the same person's: one normal form, compared everywhere.

The "a staff address can't be a customer" rule, duplicate invitations and accounts, and
sign-in by email all compare addresses through ``normal_form``, never with ``iexact``: the
database's case folding differs (SQLite's ``LIKE`` folds ASCII only) and knows nothing of
Unicode compatibility forms (a Kelvin sign ``K`` is a ``K``) or of internationalised
domains (``bücher.example`` and ``xn--bcher-kva.example`` are one domain).
"""

import re
import unicodedata

# Characters Django's default username validator allows besides letters and digits.
_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")
USERNAME_MAX_LENGTH = 150


def _domain_normal_form(domain: str) -> str:
    """The ASCII (IDNA, "punycode") form of ``domain``, lower case; a domain IDNA refuses
    (an empty or over-long label) is compared case-folded as typed."""
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.casefold()


def normal_form(address: str) -> str:
    """``address`` as compared: NFKC, the local part case-folded, the domain in IDNA form and
    lower case.

    Folding the local part's case is a choice (RFC 5321 lets a server tell ``Anna`` from
    ``anna``): no mail provider a customer uses does, and treating them as two people would
    let the same person hold a staff and a customer account.
    """
    address = unicodedata.normalize("NFKC", address.strip())
    local, at, domain = address.rpartition("@")
    if not at:
        return address.casefold()
    return f"{local.casefold()}@{_domain_normal_form(domain)}"


def same_address(first: str, second: str) -> bool:
    """Whether ``first`` and ``second`` reach the same mailbox, as the Warehouse decides."""
    return normal_form(first) == normal_form(second)


def username_for(address: str) -> str:
    """A login name made from ``address`` that Django's username validator accepts: its
    normal form with any other character (an apostrophe, a space in quotes) made ``_``, cut
    to 150 characters. People sign in with the address itself (accounts/backends.py); this
    name is only unique, so callers add a suffix when it is taken."""
    return _USERNAME_UNSAFE.sub("_", normal_form(address))[:USERNAME_MAX_LENGTH]
