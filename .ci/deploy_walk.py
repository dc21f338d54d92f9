"""CI's walk through a real production server (.ci/deploy): Chromium signs in with a
password and a TOTP code, opens the Site list, a setup page and the health page; every
stylesheet and script must answer 200 with its content type, no request 404 or 500, and
the browser must log no CSP violation. Then the probes and the metrics, over HTTP.

Run by .ci/deploy from the development virtualenv (Playwright; Debian's chromium):
    python .ci/deploy_walk.py URL USERNAME PASSWORD TOTP_KEY_HEX SITE_CODE METRICS_TOKEN
"""

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from binascii import unhexlify

from django_otp.oath import TOTP
from playwright.sync_api import sync_playwright

CONTENT_TYPES = {"stylesheet": "text/css", "script": "text/javascript"}


def fail(message: str) -> None:
    print(f"deploy walk FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 -- our server
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def main(url: str, username: str, password: str, key: str, site: str, token: str) -> None:
    assets: list[tuple[str, int, str, str]] = []
    bad: list[str] = []
    console: list[str] = []
    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page()

        def on_response(response) -> None:
            kind = response.request.resource_type
            if response.status in (404, 500) or response.status >= 500:
                bad.append(f"{response.status} {response.url}")
            if kind in CONTENT_TYPES:
                assets.append(
                    (response.url, response.status, response.headers.get("content-type", ""), kind)
                )

        page.on("response", on_response)
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))

        page.goto(f"{url}/admin/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_load_state("networkidle")
        if "second-factor" not in page.url:
            fail(f"no second-factor page after the password, but {page.url}")
        code = f"{TOTP(unhexlify(key), step=30, digits=6).token():06d}"
        page.fill("input[name=code]", code)
        # Enter in the code box: the page's other form is "log out".
        page.press("input[name=code]", "Enter")
        page.wait_for_load_state("networkidle")
        if "second-factor" in page.url or "login" in page.url:
            fail(f"the TOTP code was not accepted: still at {page.url}")

        for path in ("/admin/sites/site/", f"/sites/{site}/xero/setup/", "/xero/health/"):
            response = page.goto(f"{url}{path}")
            page.wait_for_load_state("networkidle")
            if response is None or response.status != 200:
                fail(f"{path} answered {response and response.status}")
            print(f"opened {path}: {page.title()}")
        browser.close()

    if not assets:
        fail("no stylesheet or script was loaded: the pages are unstyled")
    for asset_url, status, content_type, kind in assets:
        if status != 200 or not content_type.startswith(CONTENT_TYPES[kind]):
            bad.append(f"{kind} {asset_url}: {status} {content_type}")
    csp = [line for line in console if "Content Security Policy" in line or "Refused to" in line]
    errors = [line for line in console if line.startswith(("error", "pageerror"))]
    if bad or csp or errors:
        fail("; ".join(bad + csp + errors))
    print(f"{len(assets)} stylesheets and scripts answered 200 with their content types")

    status, content_type, body = get(f"{url}/healthz")
    if status != 200 or json.loads(body) != {"status": "ok"}:
        fail(f"/healthz: {status} {body}")
    # The worker's first heartbeat may take a moment.
    for _ in range(60):
        status, content_type, body = get(f"{url}/readyz")
        if status == 200:
            break
        time.sleep(0.5)
    if status != 200 or json.loads(body)["status"] != "ok":
        fail(f"/readyz: {status} {body}")
    if get(f"{url}/metrics")[0] != 401:
        fail("/metrics answered without its token")
    status, content_type, body = get(f"{url}/metrics", {"Authorization": f"Bearer {token}"})
    if status != 200 or not content_type.startswith("text/plain") or "warehouse_sites{" not in body:
        fail(f"/metrics with its token: {status} {content_type}")
    if "warehouse_workers_alive 1.0" not in body:
        fail("/metrics does not count the running worker")
    print("/healthz, /readyz and /metrics answered as specified")


if __name__ == "__main__":
    main(*sys.argv[1:7])
