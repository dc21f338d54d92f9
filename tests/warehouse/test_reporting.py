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
