"""The 500 handler: a database that cannot be reached is a 503 with ``Retry-After``.

Django renders ``500.html`` for any uncaught exception, so a request during a database
restart, a lost connection or a full disk read "something went wrong" and was not to be
retried. Django calls this handler inside the ``except`` block that caught the exception
(``django.core.handlers.exception``), so ``sys.exc_info()`` still holds it: an
``OperationalError`` or ``InterfaceError`` (the database unreachable, its connection lost, its
disk full) answers the styled ``503.html`` with ``Retry-After`` instead. Like the 500 page it
is rendered with no context, since nothing the request carries can be trusted then.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader

# Seconds a browser or client is told to wait: a database restart takes a few.
DATABASE_UNAVAILABLE_RETRY_AFTER = 30


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the 503 page for an unreachable database, else the 500 page."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(DATABASE_UNAVAILABLE_RETRY_AFTER)
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
