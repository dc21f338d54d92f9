"""Helpers for the fresh second factor (warehouse/sudo.py, accounts/sudo.py) in tests: make a
session's second factor stale, and answer the page that asks for a code."""

import re
import time

from django.conf import settings

from accounts.models import TOTPDevice
from tests.second_factor import totp_code
from warehouse.sudo import PASSED_AT_KEY, PENDING_FIELD

ASKED = "Confirm it is you"


def make_stale(client, *, seconds_past: float = 1.0) -> None:
    """Pretend the client's second factor was passed just over the window ago."""
    session = client.session
    window = settings.FRESH_SECOND_FACTOR_MINUTES * 60
    session[PASSED_AT_KEY] = time.time() - window - seconds_past
    session.save()


def pending_id(page: str) -> str:
    return re.search(rf'name="{PENDING_FIELD}" value="([^"]+)"', page).group(1)


def form_action(page: str) -> str:
    return re.search(r'<form method="post" action="([^"]+)" class="warehouse-code-form"', page)[1]


def answer(client, page, *, user, code: str | None = None, steps: int = 1):
    """Type the code (by default the authenticator's next one: the sign-in used this one) into
    the page ``page`` (its text), as the person does; return the answer."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return client.post(
        form_action(page).replace("&amp;", "&"),
        {
            PENDING_FIELD: pending_id(page),
            "code": code if code is not None else totp_code(device, steps=steps),
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )


def make_stale_in_browser(page, *, seconds_past: float = 1.0) -> None:
    """``make_stale`` for a Playwright page: its session, found by the browser's cookie."""
    from importlib import import_module

    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    session[PASSED_AT_KEY] = time.time() - settings.FRESH_SECOND_FACTOR_MINUTES * 60 - seconds_past
    session.save()
