"""Passing the second factor in tests the way a person does: a code computed from the key of
the user's authenticator, typed into the second-factor page."""

import time

from django.urls import reverse

from accounts.models import TOTP_STEP, TOTPDevice

VERIFY_URL = "admin:second_factor"
# The password make_user gives everyone.
PASSWORD = "pw-for-tests-1"

# What ``make_user(second_factor=...)`` and ``client_for(role, second_factor=...)`` take.
VERIFIED = "verified"  # enrolled, and passed the code in this session
UNVERIFIED = "unverified"  # enrolled, passed the password only
NOT_ENROLLED = "not_enrolled"  # no authenticator yet, passed the password only
SECOND_FACTOR_STATES = [VERIFIED, UNVERIFIED, NOT_ENROLLED]


def add_device(user) -> TOTPDevice:
    """Give ``user`` a confirmed authenticator, as if they had enrolled."""
    return TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)


def totp_code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code ``device``'s app shows now, or ``steps`` time steps later (a second sign-in
    within 30 s needs the next step: a code is accepted only once)."""
    return f"{device.totp(now=time.time() + steps * TOTP_STEP).token():06d}"


def pass_second_factor(client, user, *, steps: int = 0):
    """Type the current code into the second-factor page with ``client`` (logged in as
    ``user`` by password), CSRF token included. Returns the answer (a redirect)."""
    url = reverse(VERIFY_URL)
    client.get(url)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    csrf_token = client.cookies["csrftoken"].value
    response = client.post(
        url, {"code": totp_code(device, steps=steps), "csrfmiddlewaretoken": csrf_token}
    )
    assert response.status_code == 302, "the second factor was refused"
    return response


def wrong_code(device: TOTPDevice) -> str:
    """Six digits that are none of the codes ``device`` accepts now."""
    accepted = {totp_code(device, steps=steps) for steps in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)
