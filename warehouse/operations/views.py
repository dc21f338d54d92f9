"""``/healthz``, ``/readyz`` and ``/metrics``: answered by ``ProbeMiddleware`` before the
session, the login, the second factor and the host check, so that a load balancer or
Prometheus on the private network reaches them by address."""

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

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
