"""Answers the operator's endpoints before the rest of the stack (see ``views``)."""

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers

from warehouse import logs

from . import counters, views

# What an inbound X-Request-ID may be: a proxy's id (a UUID, hex, or similar), nothing else.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": views.healthz,
    "/readyz": views.readyz,
    "/metrics": views.metrics,
}


class ProbeMiddleware:
    """Placed after SecurityMiddleware (whose SECURE_REDIRECT_EXEMPT lets the probes through
    on plain HTTP) and before sessions, CSRF, the login and CommonMiddleware's host check."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info.rstrip("/") or "/")
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        response = view(request)
        add_never_cache_headers(response)
        return response


class RequestIdMiddleware:
    """Gives each request an id, carried by every log line it causes (``warehouse.logs``),
    sent back as ``X-Request-ID`` and passed to the tasks it queues (``xero.tasks``).

    An inbound ``X-Request-ID`` (from the proxy) is kept only when it is well formed, so a
    client cannot write what it likes into the logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        inbound = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = inbound if REQUEST_ID.fullmatch(inbound) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        added = counters.adds()
        with logs.log_context(request=request_id):
            response = self.get_response(request)
            # The request's counts for /metrics, in one statement per table, if it counted.
            if counters.adds() != added:
                counters.flush()
        response["X-Request-ID"] = request_id
        return response

    def process_view(
        self, request: HttpRequest, view: object, args: object, kwargs: dict[str, object]
    ) -> None:
        # By now the user is known (AuthenticationMiddleware ran) and the URL resolved.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            logs.user_id.set(user.pk)
        code = kwargs.get("code")
        if isinstance(code, str):
            logs.site_code.set(code)
