"""The second factor under parallel requests: real HTTP to a live server, real database.

Issue 23 found that a wrong code counted after its transaction saved a stale copy of the
device, putting an older ``last_t`` back (so the right code was accepted again) and losing
counts of the throttle. These tests send many codes for one user at the same moment, each
from a session of its own, through the second-factor page a person uses.
"""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.test import Client
from django.urls import reverse

from accounts import models as accounts_models
from accounts.models import TOTPDevice
from tests.second_factor import totp_code, wrong_code

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# What the page says after a wrong code that was checked (not refused as throttled).
WRONG = "That code is not right"


@pytest.fixture(autouse=True)
def _parallel_friendly(settings, monkeypatch):
    """django-axes would lock the user out after five wrong codes, and the device's own
    throttle would refuse codes without checking them: neither is what these tests count
    (each is tested on its own elsewhere), so both are out of the way here."""
    settings.AXES_FAILURE_LIMIT = 100_000
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setattr(accounts_models, "THROTTLE_FACTOR_SECONDS", 0)


def _sessions(live_server, user, count: int) -> list[tuple[requests.Session, str]]:
    """``count`` browsers signed in by password as ``user``, each on the code page, with
    the CSRF token of its form."""
    sessions = []
    url = live_server.url + reverse("admin:second_factor")
    for _ in range(count):
        client = Client()
        client.force_login(user)
        browser = requests.Session()
        browser.cookies.set("sessionid", client.cookies["sessionid"].value)
        page = browser.get(url, timeout=30)
        assert page.status_code == 200
        sessions.append((browser, CSRF_INPUT.search(page.text).group(1)))
    return sessions


def _post_all_at_once(live_server, posts: list[tuple[requests.Session, str, str]]) -> list:
    """POST each (session, csrf token, code) to the code page, all released together."""
    url = live_server.url + reverse("admin:second_factor")
    start = threading.Barrier(len(posts))

    def post(session, token, code):
        start.wait()
        return session.post(
            url,
            data={"code": code, "csrfmiddlewaretoken": token},
            headers={"Referer": url},
            allow_redirects=False,
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(lambda args: post(*args), posts))


def _verified(live_server, session: requests.Session) -> bool:
    index = session.get(live_server.url + reverse("admin:index"), allow_redirects=False)
    return index.status_code == 200


def test_the_right_code_sent_from_many_sessions_at_once_is_accepted_once(live_server, make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    # Several rounds: a lost update needs an unlucky order, and each round is a new chance.
    for _round in range(6):
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
        right = _sessions(live_server, user, 6)
        wrong = _sessions(live_server, user, 6)
        code, bad = totp_code(device), wrong_code(device)
        posts = [(s, t, code) for s, t in right] + [(s, t, bad) for s, t in wrong]
        answers = _post_all_at_once(live_server, posts)
        accepted = [answer for answer in answers[:6] if answer.status_code == 302]
        assert len(accepted) == 1, f"the same code was accepted {len(accepted)} times"
        assert all(answer.status_code == 200 and WRONG in answer.text for answer in answers[6:])
        assert sum(_verified(live_server, s) for s, _t in right + wrong) == 1


def test_every_wrong_code_sent_at_once_counts(live_server, make_user):
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    count = 16
    sessions = _sessions(live_server, user, count)
    bad = wrong_code(device)
    answers = _post_all_at_once(live_server, [(s, t, bad) for s, t in sessions])
    assert all(answer.status_code == 200 and WRONG in answer.text for answer in answers)
    device = TOTPDevice.objects.get(pk=device.pk)
    assert device.throttling_failure_count == count


def test_with_the_throttle_on_every_checked_wrong_code_counts(live_server, make_user, monkeypatch):
    """The device's wait as configured: codes refused unchecked while it lasts are not
    counted; every code that was checked is."""
    monkeypatch.setattr(accounts_models, "THROTTLE_FACTOR_SECONDS", 1)
    user = make_user("Staff")
    device = TOTPDevice.objects.get(user=user)
    sessions = _sessions(live_server, user, 12)
    bad = wrong_code(device)

    answers = _post_all_at_once(live_server, [(s, t, bad) for s, t in sessions])

    checked = sum(WRONG in answer.text for answer in answers)
    throttled = sum("Too many wrong codes in a row" in answer.text for answer in answers)
    assert checked >= 1 and checked + throttled == len(answers)
    assert TOTPDevice.objects.get(pk=device.pk).throttling_failure_count == checked
