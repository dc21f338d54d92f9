"""The Interconnect API, version 1 (django-ninja): thin operations over ``credentials``,
``selectors`` and ``services``. Every answer is JSON, refusals included (``errors``).

Authentication is a Bearer API credential only: no session cookie is read, so a browser
signed in to the admin gets 401 here like anyone else.
"""

import datetime
import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import Field

from sites.models import Site

from . import credentials, errors, selectors, services
from .models import ApiCredential, Scope
from .schemas import AccessToken, Error, Signature, SignRequest, SiteList, SiteStatus

logger = logging.getLogger(__name__)

# A Site's code as ``Site.code`` allows it (a slug of at most 32): anything else names no Site.
SITE_CODE = re.compile(r"[-a-zA-Z0-9_]{1,32}")
# How far back ``next_since`` reaches, so that a change committed a moment after the answer
# (a connection test saving its result) is still listed next time.
SINCE_OVERLAP = datetime.timedelta(seconds=60)
MAX_PAGE = 100_000


class BearerCredential(HttpBearer):
    """``Authorization: Bearer whapi_…``, checked and counted (``credentials.credential_use``)."""

    def __call__(self, request: HttpRequest) -> ApiCredential | None:
        _refuse_large_body(request)
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise errors.CredentialMissing()
        return self.authenticate(request, secret.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiCredential:
        return credentials.credential_use(secret=token)


def _refuse_large_body(request: HttpRequest) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.API_MAX_BODY_BYTES:
        raise errors.formatted(errors.BodyTooLarge, limit=settings.API_MAX_BODY_BYTES)


api = NinjaAPI(
    title="Warehouse Interconnect API",
    version="1",
    description=(
        "Each Site's Xero link: its status, fresh access tokens and OAuth 1.0a signatures. "
        "Authenticate with `Authorization: Bearer <API credential>`. See docs/api.md."
    ),
    urls_namespace="api",
    auth=BearerCredential(),
    openapi_url="/schema/",
    docs_url="/docs/",
)

ERRORS: dict[int, type[Error]] = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    413: Error,
    422: Error,
    429: Error,
}


def _error_response(request: HttpRequest, error: errors.ApiError) -> HttpResponse:
    status = getattr(error, "failure_status", error.status)
    response = JsonResponse(error.body(), status=status)
    for name, value in error.headers.items():
        response[name] = value
    return response


@api.exception_handler(errors.ApiError)
def _api_error(request: HttpRequest, error: errors.ApiError) -> HttpResponse:
    return _error_response(request, error)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    details = [
        {
            "where": ".".join(str(part) for part in item.get("loc", ())),
            "problem": str(item.get("msg", ""))[:200],
        }
        for item in error.errors[:20]
    ]
    body = {**errors.Invalid().body(), "errors": details}
    return JsonResponse(body, status=422)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    return _error_response(request, errors.CredentialMissing())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    # django-ninja's own refusals: a body that is no JSON is the only one it raises here.
    if error.status_code == 400:
        return _error_response(request, errors.BodyMalformed())
    return JsonResponse({"code": "error", "message": str(error)}, status=error.status_code)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, error: Exception) -> HttpResponse:
    return _error_response(
        request, errors.formatted(errors.BodyTooLarge, limit=settings.API_MAX_BODY_BYTES)
    )


@api.exception_handler(Exception)
def _fault(request: HttpRequest, error: Exception) -> HttpResponse:
    logger.exception("API fault at %s", request.path)
    return _error_response(request, errors.Internal())


def _require(
    request: HttpRequest, scope: str, *, parameters: frozenset[str] = frozenset()
) -> ApiCredential:
    """The request's credential, if it has ``scope``; and no query parameter but
    ``parameters`` (a misspelt filter is refused, never silently ignored)."""
    unknown = sorted(set(request.GET) - parameters)
    if unknown:
        raise errors.Invalid(
            f"Unknown query parameter {unknown[0][:40]!r}; this operation takes "
            f"{', '.join(sorted(parameters)) or 'none'}."
        )
    credential: ApiCredential = request.auth  # type: ignore[attr-defined]
    if not credential.has_scope(scope):
        raise errors.formatted(errors.ScopeMissing, scope=scope)
    return credential


def _site_for(credential: ApiCredential, code: str) -> Site:
    """The Site ``code`` names, if the credential may reach it; else 404, the same answer as
    for a Site that does not exist."""
    if not SITE_CODE.fullmatch(code):
        raise errors.SiteNotFound()
    site = credentials.reachable_sites(credential).filter(code=code).first()
    if site is None:
        raise errors.SiteNotFound()
    return site


# RFC 3339's date-time (what the schema's "date-time" format means): an offset is required.
RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _moment(text: str) -> datetime.datetime:
    """``since`` as an aware UTC datetime, or ``Invalid`` saying what it must look like."""
    refused = errors.Invalid(
        "`since` must be an RFC 3339 time with its offset, e.g. 2026-12-04T03:00:00Z."
    )
    if not RFC3339.fullmatch(text):
        raise refused
    try:
        normalised = text.upper().replace("Z", "+00:00")
        # Python reads at most six digits of a fraction.
        normalised = re.sub(r"(\.\d{6})\d+", r"\1", normalised)
        return datetime.datetime.fromisoformat(normalised).astimezone(datetime.UTC)
    except (OverflowError, ValueError):
        raise refused from None


LIST_PARAMETERS = frozenset({"state", "connection_type", "since", "page", "page_size"})


@api.get(
    "/sites/",
    response={200: SiteList, **ERRORS},
    summary="List Sites with their status",
    operation_id="sites_list",
)
def sites_list(
    request: HttpRequest,
    state: Literal["ok", "failing", "not_connected", "never_tested"] | None = None,
    connection_type: Literal["private_app", "custom_connection", "web_app"] | None = None,
    since: Annotated[
        str | None,
        Field(
            description=(
                "Only Sites changed after this time (RFC 3339, e.g. the last answer's "
                "`next_since`)."
            ),
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Field(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    credential = _require(request, Scope.STATUS, parameters=LIST_PARAMETERS)
    now = timezone.now()
    start = (page - 1) * page_size
    count, rows = selectors.site_status_page(
        sites=credentials.reachable_sites(credential),
        state=state,
        connection_type=connection_type,
        since=_moment(since) if since is not None else None,
        offset=start,
        limit=page_size,
    )
    following = None
    if start + page_size < count:
        query = request.GET.copy()
        query["page"] = str(page + 1)
        following = f"{request.path}?{urlencode(sorted(query.items()))}"
    return {
        "count": count,
        "next": following,
        "results": [selectors.status_of(site) for site in rows],
        "next_since": (now - SINCE_OVERLAP).isoformat(),
    }


@api.get(
    "/sites/{code}/",
    response={200: SiteStatus, **ERRORS},
    summary="One Site's status",
    operation_id="site_status",
)
def site_detail(request: HttpRequest, code: str) -> dict[str, Any]:
    credential = _require(request, Scope.STATUS)
    site = _site_for(credential, code)
    status = selectors.site_status(sites=Site.objects.filter(pk=site.pk), code=site.code)
    if status is None:
        raise errors.SiteNotFound()
    return selectors.status_of(status)


XERO_ERRORS: dict[int, type[Error]] = {**ERRORS, 409: Error, 502: Error}


@api.post(
    "/sites/{code}/xero/access-token",
    response={200: AccessToken, **XERO_ERRORS},
    summary="A working Xero access token (Custom Connection, Connect to Xero)",
    operation_id="xero_access_token",
)
def access_token(request: HttpRequest, code: str) -> dict[str, Any]:
    credential = _require(request, Scope.CREDENTIALS)
    site = _site_for(credential, code)
    handed = services.access_token_hand_out(site=site, credential=credential)
    return {
        "access_token": handed.access_token,
        "token_type": "Bearer",
        "expires_at": handed.expires_at,
        "tenant_id": handed.tenant_id,
        "scopes": handed.scopes,
    }


@api.post(
    "/sites/{code}/xero/sign",
    response={200: Signature, **XERO_ERRORS},
    summary="An OAuth 1.0a Authorization header (private applications)",
    operation_id="xero_sign",
)
def sign(request: HttpRequest, code: str, body: SignRequest) -> dict[str, Any]:
    credential = _require(request, Scope.CREDENTIALS)
    site = _site_for(credential, code)
    header = services.signature_hand_out(
        site=site, credential=credential, method=body.method, url=body.url
    )
    return {"authorization": header}


def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other address under /api/: a JSON 404, like the API's own."""
    return _error_response(request, errors.NotFound())
