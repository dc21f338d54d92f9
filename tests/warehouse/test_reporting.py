import secrets
import sys

from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from tests.conftest import CONSUMER_SECRET


def test_error_report_hides_posted_secrets_and_secret_local_variables(settings):
    settings.DEBUG = True
    request = RequestFactory().post("/admin/", {"new_api_secret": CONSUMER_SECRET, "name": "Acme"})

    def failing_service(api_secret):
        raise ValueError("boom")

    try:
        failing_service(CONSUMER_SECRET)
    except ValueError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        html = reporter.get_traceback_html()
        text = reporter.get_traceback_text()
    assert "Acme" in html
    assert CONSUMER_SECRET not in html
    assert CONSUMER_SECRET not in text


def test_error_report_hides_secrets_inside_dicts_and_codes(settings):
    settings.DEBUG = True
    # Made here, so that the report's source lines cannot show them.
    refresh_token, verifier, code, site = (secrets.token_hex(12) for _ in range(4))
    request = RequestFactory().post("/admin/second-factor/", {"code": code})

    def refresh(grant, pending):
        raise KeyError("expires_in")

    try:
        refresh(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            {"site": site, "code_verifier": verifier},
        )
    except KeyError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        html = reporter.get_traceback_html()
        text = reporter.get_traceback_text()
    assert site in html  # the dict is shown, with only its secret values hidden
    for secret in (refresh_token, verifier, code):
        assert secret not in html and secret not in text
