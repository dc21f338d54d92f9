"""A real browser: Debian's chromium driven by Playwright, against the live Django server.

Screenshots of each step go to test-artifacts/ (git-ignored).
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.second_factor import totp_code
from warehouse.accounts.models import TOTPDevice

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "pw-for-browser-tests-1"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it with apt")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while it is open;
    # the ORM calls the tests make between browser steps are still plain synchronous calls.
    # Only for this module's tests: the variable goes when the browser does.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=["--no-sandbox"]
            )
            yield browser
            browser.close()


@pytest.fixture
def screenshots(request):
    """``shot(page, name)`` saves test-artifacts/<module>/<test>/<nn>-<name>.png.

    The module is in the path so that two pytest-xdist workers never share a folder.
    """
    test = request.node.name.replace("[", "-").replace("]", "")
    folder = ARTIFACTS / request.node.path.stem / test
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    taken = []

    def shot(page, name):
        taken.append(name)
        path = folder / f"{len(taken):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shot


@pytest.fixture
def open_browser(browser, live_server):
    """``open_browser(width=, height=, color_scheme=)``: a new page in a fresh context."""
    contexts = []

    def open_browser(*, width=1280, height=900, color_scheme="light"):
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        contexts.append(context)
        return context.new_page()

    yield open_browser
    for context in contexts:
        context.close()


def sign_in_with_password(page, username, password=PASSWORD):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


@pytest.fixture
def login_as(open_browser, make_user):
    """Open a browser as a new user of ``role``, signed in through the admin's form and past
    the second factor: the code is computed from their authenticator's key and typed in.

    ``second_factor=False``: the user has no authenticator yet and is left on the enrolment
    page. The user is ``page.user``.
    """

    def login_as(role, *, width=1280, height=900, color_scheme="light", second_factor=True):
        user = (
            make_user(superuser=True, second_factor=second_factor)
            if role == "superuser"
            else make_user(role, second_factor=second_factor)
        )
        user.set_password(PASSWORD)
        user.save()
        page = open_browser(width=width, height=height, color_scheme=color_scheme)
        page.user = user
        sign_in_with_password(page, user.username)
        if not second_factor:
            page.wait_for_url("**/admin/second-factor/enrol/**")
            return page
        page.wait_for_url("**/admin/second-factor/**")
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        page.fill("#id_code", totp_code(device))
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        return page

    return login_as


# The fake Xero fixtures of the xero tests, shared here.
from tests.xero.conftest import fake_xero, fake_xero_settings  # noqa: E402, F401
