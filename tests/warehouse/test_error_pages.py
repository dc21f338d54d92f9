"""403, 404, 500 and CSRF failure pages: in the admin's look, a way back, nothing internal."""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

SITES = reverse("admin:sites_site_changelist")


def assert_friendly(response, status, heading):
    assert response.status_code == status
    page = response.text
    assert heading in page
    assert f'href="{SITES}"' in page and "Back to the Site list" in page
    assert "ask a Warehouse superuser" in page
    assert 'id="site-name"' in page  # the admin's header
    assert "/static/admin/css/base.css" in page
    for internal in ["Traceback", "SECRET_KEY", "settings.py", "DEBUG", "FIELD_ENCRYPTION_KEYS"]:
        assert internal not in page


def test_a_role_without_the_right_gets_the_styled_403(client_for, site):
    response = client_for("nobody").get(reverse("xero:setup", args=[site.code]))
    assert_friendly(response, 403, "You are not allowed to do that")


def test_an_unknown_address_gets_the_styled_404(client_for):
    response = client_for("staff").get("/no/such/page/")
    assert_friendly(response, 404, "There is nothing at this address")


def test_an_unknown_site_gets_the_styled_404(client_for):
    response = client_for("staff").get(reverse("xero:setup", args=["no-such-site"]))
    assert_friendly(response, 404, "There is nothing at this address")


@pytest.mark.urls("tests.warehouse.raising_urls")
def test_a_failure_gets_the_styled_500_without_traceback_or_variables(db):
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    assert_friendly(response, 500, "Something went wrong on our side")
    assert "boom" not in response.text and "SECRET-IN-A-LOCAL-VARIABLE" not in response.text


def test_a_form_without_its_csrf_token_gets_the_styled_csrf_page(make_user, log_in, site):
    client = log_in(Client(enforce_csrf_checks=True), make_user("Admins"))
    response = client.post(reverse("xero:certificate_issue", args=[site.code]), {})
    assert_friendly(response, 403, "This form had expired")


def test_the_error_pages_carry_the_content_security_policy(client_for):
    response = client_for("staff").get("/no/such/page/")
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.django_db(transaction=True)
def test_a_request_while_the_database_is_unreachable_gets_the_styled_503_with_retry_after(
    client_for,
):
    client = client_for("staff")
    client.raise_request_exception = False
    database = connection.settings_dict
    saved = dict(database)
    connection.close()
    # The database's server gone (restarting): nothing answers where it was.
    if connection.vendor == "sqlite":
        database["NAME"] = "/nonexistent-directory/warehouse.sqlite3"
    else:
        database["PORT"] = "1"
    try:
        response = client.get(SITES)
    finally:
        connection.close()
        database.update(saved)
    assert_friendly(response, 503, "The Warehouse's database is not answering")
    assert response["Retry-After"] == "30"
    assert "try again in half a minute" in response.text
