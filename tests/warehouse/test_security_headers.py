"""The Content-Security-Policy, the favicon, and templates that need no inline script."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in header.split(";") if part.strip()
    }


@pytest.mark.parametrize(
    "url", [reverse("admin:login"), reverse("admin:index"), reverse("xero:health")]
)
def test_every_page_has_a_strict_policy(client_for, url):
    directives = policy(client_for("staff").get(url))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in " ".join(directives.values())
    assert "unsafe-eval" not in " ".join(directives.values())


def test_the_login_page_is_under_the_policy_too(client):
    assert "script-src 'self'" in client.get(reverse("admin:login"))["Content-Security-Policy"]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=str)
def test_no_template_has_inline_script_style_or_handlers(template):
    text = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag, f"inline <script> in {template.name}"
    assert not re.search(r"<style\b", text), f"<style> in {template.name}"
    assert not re.search(r"\sstyle=", text), f"style= in {template.name}"
    assert not re.search(r"\son[a-z]+=", text), f"event handler attribute in {template.name}"
    assert "javascript:" not in text


def test_pages_name_the_favicon_and_the_old_address_leads_to_it(client, client_for):
    page = client_for("staff").get(reverse("admin:index")).text
    assert 'rel="icon" href="/static/warehouse/favicon.svg"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url == "/static/warehouse/favicon.svg"


def test_every_answer_to_staff_and_strangers_forbids_framing(client, client_for):
    for response in [
        client.get(reverse("admin:index")),
        client.get(reverse("admin:login")),
        client_for("staff").get(reverse("admin:index")),
    ]:
        assert response["X-Frame-Options"] == "DENY"
