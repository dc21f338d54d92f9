"""The API's docs page (Swagger UI from our own static files) works under the strict
Content-Security-Policy: it lists every operation and no violation is reported."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_page_renders_every_operation_under_the_csp(open_browser, screenshots):
    page = open_browser()
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    response = page.goto("/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)

    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {path.replace("\u200b", "") for path in paths} == {
        "/api/v1/sites/",
        "/api/v1/sites/{code}/",
        "/api/v1/sites/{code}/xero/access-token",
        "/api/v1/sites/{code}/xero/sign",
    }
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert not [text for text in messages if "Content Security Policy" in text], messages
    origin = page.url.split("/api/")[0]
    assert all(url.startswith(origin) or url.startswith("data:") for url in requests), requests
    screenshots(page, "api-docs")
