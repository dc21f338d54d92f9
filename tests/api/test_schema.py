"""Schemathesis against the API's own OpenAPI schema, through the WSGI application, with a
credential: every operation, its property-based cases (valid and invalid input), and a
failure for any 5xx or any answer that does not match the schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.xero.conftest import CLIENT_ID, CLIENT_SECRET
from warehouse.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]


def test_the_schema_is_openapi_3_1_with_every_operation(client, db):
    document = client.get("/api/v1/schema/").json()

    assert document["openapi"].startswith("3.1")
    operations = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert operations == {
        ("GET", "/api/v1/sites/"),
        ("GET", "/api/v1/sites/{code}/"),
        ("POST", "/api/v1/sites/{code}/xero/access-token"),
        ("POST", "/api/v1/sites/{code}/xero/sign"),
    }
    assert document["components"]["securitySchemes"]["BearerCredential"]["scheme"] == "bearer"


@pytest.fixture
def secret(make_credential, make_site, django_settings, fake_xero_settings):
    django_settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    # A Site of each type under short codes the generated cases find: "0" works against the
    # fake Xero, the others answer 409 (no certificate, not connected).
    fake_xero_settings.register_custom_connection(CLIENT_ID, CLIENT_SECRET)
    make_site(code="a", name="A")
    make_site(
        code="0",
        connection_type="custom_connection",
        api_key=CLIENT_ID,
        api_secret=CLIENT_SECRET,
    )
    make_site(code="b", connection_type="web_app")
    _, made = make_credential("status", "credentials")
    return made


@pytest.fixture
def django_settings(settings):
    return settings


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request, as Django's
    test client does not: that would close the test's transaction. Disconnected here the
    way the test client disconnects it."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case, secret):
    case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, checks=CHECKS)
