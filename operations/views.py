"""``/healthz``, ``/readyz`` and ``/metrics``: answered by ``ProbeMiddleware`` before the
session, the login, the second factor and the host check, so that a load balancer or
Prometheus on the private network reaches them by address."""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from . import metrics as metrics_module
from . import readiness


def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers. No database: a database outage must not restart every web
    process (that is /readyz's to say)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """The database answers, no migration is unapplied, the keys decrypt the canaries, a
    worker beat recently, the oldest queued check is young enough: 200, else 503."""
    ready, checks = readiness.readiness()
    response = HttpResponse(
        json.dumps({"status": "ok" if ready else "failing", "checks": checks}),
        status=200 if ready else 503,
        content_type="application/json",
    )
    # A 503 here is the probe's answer, not a fault: Django would log it as an ERROR at
    # every probe (every few seconds). The access log keeps the status.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape, with ``Authorization: Bearer $METRICS_TOKEN``. Without a token
    configured the endpoint does not exist (404); a wrong or missing one is 401."""
    from django.conf import settings

    if not settings.METRICS_TOKEN:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    if not metrics_module.token_accepted(request.META.get("HTTP_AUTHORIZATION", "")):
        response = HttpResponse("Unauthorized.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_module.exposition(), content_type=metrics_module.CONTENT_TYPE)
