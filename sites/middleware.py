import logging

from django.shortcuts import render
from django.urls import Resolver404, resolve

from warehouse.encryption import EncryptionKeyError

from . import audit

logger = logging.getLogger(__name__)

# The answers that refuse a signed-in user a page.
REFUSALS = frozenset({403, 404})


class RefusedAccessMiddleware:
    """Record a signed-in user's refused pages (403, 404) in the audit trail, one row per
    user, page kind and hour (``audit.record_refused_access``). Outside the customer fence,
    so its 404s are seen too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code in REFUSALS and user is not None and user.is_authenticated:
            audit.record_refused_access(
                user=user,
                page_kind=_page_kind(request.path_info),
                status=response.status_code,
                path=request.path,
            )
        return response


def _page_kind(path: str) -> str:
    try:
        return resolve(path).view_name or "unnamed"
    except Resolver404:
        return "unknown"


class EncryptionKeyErrorMiddleware:
    """Turn a missing or wrong FIELD_ENCRYPTION_KEYS into a plain 503 page, not a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, EncryptionKeyError):
            return None
        logger.error("Encryption keys problem (%s) at %s", exception.code, request.path)
        return render(
            request,
            "encryption_key_error.html",
            {"message": exception.message, "code": exception.code},
            status=503,
        )
