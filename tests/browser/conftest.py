"""A real browser: Debian's chromium driven by Playwright, against the live Django server.

Screenshots of each step go to test-artifacts/ (git-ignored).
"""

import os
import shutil
from pathlib import Path

import pytest

from accounts.models import TOTPDevice
from customers.access import CUSTOMERS
from customers.services import membership_add
from tests.second_factor import totp_code

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Installed by `make test` (npm ci from tests/browser/package.json).
AXE_SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# The axe-core impacts that fail a page; "minor" and "moderate" ones are left to judgement.
AXE_FAILING_IMPACTS = {"serious", "critical"}
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


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE_SCRIPT} is missing: `make test` installs it with npm")
        pytest.skip("axe-core is not installed: run `make test` (needs npm)")
    return AXE_SCRIPT.read_text()


@pytest.fixture
def axe_violations(axe_source):
    """``axe_violations(page)``: the serious and critical accessibility problems axe-core
    finds on the page, as "rule: selector" strings."""

    def axe_violations(page) -> list[str]:
        # evaluate() runs through the DevTools protocol, which a Content-Security-Policy
        # does not block (a <script> tag with the source inline would be).
        page.evaluate(axe_source)
        found = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]}))
                .violations.map(v => ({id: v.id, impact: v.impact,
                                       targets: v.nodes.map(n => n.target.join(" ")
                                           + (n.any[0] ? ` (${n.any[0].message})` : ""))}))"""
        )
        return [
            f"{violation['id']} ({violation['impact']}): {', '.join(violation['targets'])}"
            for violation in found
            if violation["impact"] in AXE_FAILING_IMPACTS
        ]

    return axe_violations


def page_overflow(page) -> list[str]:
    """What sticks out sideways: the page's width beyond the viewport, and the widest
    elements that cause it (empty when nothing makes the page scroll sideways)."""
    return page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            if (document.documentElement.scrollWidth <= width) return [];
            const sticksOut = e => e.getBoundingClientRect().right > width + 1;
            // Inside a box that scrolls or clips, an element does not widen the page.
            const clipped = e => {
                for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
                    if (getComputedStyle(p).overflowX !== "visible") return true;
                return false;
            };
            // An element too wide, or one whose text (a long word) runs out of it.
            const overflows = e => !clipped(e) && (
                (sticksOut(e) && !sticksOut(e.parentElement))
                || (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
                    && getComputedStyle(e).overflowX === "visible"
                    && ![...e.children].some(c => c.scrollWidth > c.clientWidth + 1)));
            const culprits = [...document.querySelectorAll("body *")]
                .filter(overflows)
                .slice(0, 5)
                .map(e => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}`
                          + `.${[...e.classList].join(".")} is `
                          + `${Math.max(e.scrollWidth, e.getBoundingClientRect().right)} px`);
            return [`the page is ${document.documentElement.scrollWidth} px wide`, ...culprits];
        }"""
    )


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
from tests.xero.conftest import (  # noqa: E402, F401
    WEB_APP_CLIENT_ID,
    WEB_APP_CLIENT_SECRET,
    fake_xero,
    fake_xero_settings,
    web_app_xero,
    web_site,
)


@pytest.fixture
def xero(web_app_xero, live_server):  # noqa: F811 - the fixture above, extended
    """The fake Xero with the Warehouse's app registered for the live server's callback, so
    that Connect to Xero can be clicked through."""
    web_app_xero.register_web_app(
        WEB_APP_CLIENT_ID, WEB_APP_CLIENT_SECRET, f"{live_server.url}/xero/callback/"
    )
    return web_app_xero


def state_of(page, key) -> str:
    """The state a setup page shows for its step ``key`` (To do, Done, Problem…)."""
    return page.locator(f"#step-{key} h2 .xero-state").inner_text()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def allow_in_xero(page, xero, *organisations, button="Connect to Xero") -> None:
    """Press ``button`` and, on the fake Xero's consent page, allow ``organisations``."""
    page.get_by_role("button", name=button).click()
    page.wait_for_url(f"{xero.url}/identity/connect/authorize*")
    for name in organisations:
        page.get_by_label(name).check()
    page.get_by_role("button", name="Allow access").click()


def customer_signs_in(open_browser, make_user, site, *, width, scheme):
    """A customer of ``site`` signs in with their password and authenticator code, and lands
    on its setup page."""
    customer = make_user(CUSTOMERS)
    customer.set_password(PASSWORD)
    customer.save()
    membership_add(site=site, user=customer)
    page = open_browser(width=width, color_scheme=scheme)
    sign_in_with_password(page, customer.username)
    page.wait_for_url("**/admin/second-factor/**")
    page.fill("#id_code", totp_code(TOTPDevice.objects.get(user=customer, confirmed=True)))
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto(f"/sites/{site.code}/xero/setup/")
    page.user = customer
    return page
