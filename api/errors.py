"""Every refusal the API can give: one class each, with its HTTP status, code and message.

The answer's body is always ``{"code": ..., "message": ...}`` (``schemas.Error``); a
client branches on ``code``, a person reads ``message``.
"""

from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "The request was not understood."
    headers: dict[str, str]

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.text = message or self.message
        self.headers = headers or {}
        super().__init__(self.text)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.text}


class CredentialMissing(ApiError):
    status = 401
    code = "credential_missing"
    message = (
        "Send an API credential as 'Authorization: Bearer whapi_…'. An Admin creates one with "
        "`manage.py api_credential_create` or in the admin."
    )


class CredentialInvalid(ApiError):
    status = 401
    code = "credential_invalid"
    message = "This API credential is not known. Check you copied the whole secret."


class CredentialExpired(ApiError):
    status = 401
    code = "credential_expired"
    message = "This API credential has expired. Ask an Admin for a new one."


class CredentialRevoked(ApiError):
    status = 401
    code = "credential_revoked"
    message = "This API credential was revoked. Ask an Admin for a new one."


class ScopeMissing(ApiError):
    status = 403
    code = "scope_missing"
    message = "This API credential lacks the scope '{scope}' this operation needs."


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"
    message = "Too many requests with this API credential: wait {seconds} s and send again."


class SiteNotFound(ApiError):
    status = 404
    code = "site_not_found"
    message = "No Site with this code (or not one this API credential may reach)."


class NotFound(ApiError):
    status = 404
    code = "not_found"
    message = "There is nothing at this address. The API's operations are at /api/v1/docs/."


class BodyTooLarge(ApiError):
    status = 413
    code = "body_too_large"
    message = "The request's body is larger than {limit} bytes."


class BodyMalformed(ApiError):
    status = 400
    code = "body_malformed"
    message = "The request's body is not a JSON object."


class Invalid(ApiError):
    status = 422
    code = "invalid"
    message = "Some fields are missing or wrong: see errors."


class WrongConnectionType(ApiError):
    status = 409
    code = "wrong_connection_type"
    message = "This operation is for {wanted} Sites; this Site is a {actual}."


class UrlNotAllowed(ApiError):
    status = 422
    code = "url_not_allowed"
    message = "Only addresses under the Xero API ({api}) or payroll ({payroll}) bases are signed."


class XeroRefused(ApiError):
    """A failure of the Site's link (``xero.exceptions``), with its own code and message."""

    status = 409

    def __init__(self, *, code: str, message: str, status: int):
        super().__init__(message)
        self.failure_code = code
        self.failure_status = status

    def body(self) -> dict[str, Any]:
        return {"code": self.failure_code, "message": self.text}


class Internal(ApiError):
    status = 500
    code = "internal_error"
    message = "A fault in the Warehouse; it is logged for the developers. Try again later."


def formatted(error_class: type[ApiError], **values: object) -> ApiError:
    """An ``error_class`` whose message has ``values`` filled in."""
    return error_class(error_class.message.format(**values))
