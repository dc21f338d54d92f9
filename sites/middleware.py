import logging

from django.shortcuts import render

from warehouse.encryption import EncryptionKeyError

logger = logging.getLogger(__name__)


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
