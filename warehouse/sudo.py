"""A fresh second factor before anything dangerous ("sudo mode", as GitHub and django-allauth's
reauthentication do).

Issuing or activating a certificate, changing an API Secret, disconnecting from Xero,
deleting a Site, resetting someone's second factor, creating an API credential and inviting a
customer need a second factor passed within ``FRESH_SECOND_FACTOR_MINUTES``. The views and
admin actions that do them are wrapped with the one decorator here,
``fresh_second_factor_required`` (a view, a ModelAdmin's view or an admin action), or call
``ask_unless_fresh`` when only some of their requests are dangerous (a Secret that changes).

Without a fresh one, the answer is a page asking for a code (authenticator or recovery code)
whose form posts back to the same address. The request's POST data is kept meanwhile in the
session, on the server (the session's data is encrypted at rest, accounts/sessions.py), under
a random id that the code form carries; nothing of it is rendered, an API Secret included.
When the right code comes back (``accounts.sudo.FreshSecondFactorMiddleware``: the code
check is the second factor's, a layer up; this module is below every app that wraps a
view), the kept data replaces the
form's and the view runs as if first asked: the user finishes what they started in one step.
A kept request is used once and lapses with the freshness window.

With ``REQUIRE_TWO_FACTOR`` off (development, some tests) nothing is asked: the gate asks for
no second factor at all then, and ``check --deploy`` warns about it.
"""

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

# Session keys: when this session last passed a second factor (seconds since the epoch), and
# the one request waiting for a fresh one.
PASSED_AT_KEY = "_second_factor_passed_at"
PENDING_KEY = "_fresh_second_factor_pending"
# The field of the code form that says which kept request it completes.
PENDING_FIELD = "fresh_second_factor"
# Fields never kept: the token is the code form's own; the code is the answer.
NOT_KEPT = {"csrfmiddlewaretoken", PENDING_FIELD, "code"}
# The largest request kept, in characters of its fields: these forms are a few fields.
MAX_KEPT_CHARACTERS = 64 * 1024


def second_factor_passed(request: HttpRequest, *, now: float | None = None) -> None:
    """Record that this session passed a second factor now (the sign-in's code page,
    enrolment, or the fresh-factor page)."""
    request.session[PASSED_AT_KEY] = time.time() if now is None else now


def is_fresh(request: HttpRequest, *, now: float | None = None) -> bool:
    """Whether this session passed a second factor within ``FRESH_SECOND_FACTOR_MINUTES``
    (always, while ``REQUIRE_TWO_FACTOR`` is off)."""
    if not settings.REQUIRE_TWO_FACTOR:
        return True
    passed_at = request.session.get(PASSED_AT_KEY)
    verified = getattr(request.user, "is_verified", lambda: False)()
    if not isinstance(passed_at, int | float) or not verified:
        return False
    now = time.time() if now is None else now
    return 0 <= now - passed_at <= settings.FRESH_SECOND_FACTOR_MINUTES * 60


def ask_for_second_factor(
    request: HttpRequest, *, error: str = "", pending_id: str = ""
) -> HttpResponse:
    """The page asking for a code, whose form posts back to this address; this request's
    POST data kept until then."""
    if not pending_id:
        pending_id = secrets.token_urlsafe(16)
        kept: dict[str, list[str]] = {}
        if request.method == "POST":
            kept = {k: request.POST.getlist(k) for k in request.POST if k not in NOT_KEPT}
            if sum(len(k) + sum(map(len, v)) for k, v in kept.items()) > MAX_KEPT_CHARACTERS:
                kept = {}
        request.session[PENDING_KEY] = {
            "id": pending_id,
            "path": request.path,
            "method": request.method,
            "data": kept,
            "at": time.time(),
        }
    return TemplateResponse(
        request,
        "accounts/fresh_second_factor.html",
        {
            "title": "Confirm it is you",
            "error": error,
            "cancel_url": _came_from(request),
            "action": request.get_full_path(),
            "pending_field": PENDING_FIELD,
            "pending_id": pending_id,
            "minutes": settings.FRESH_SECOND_FACTOR_MINUTES,
            "site_header": "Warehouse",
            "site_title": "Warehouse",
            "has_permission": True,
        },
    )


def _came_from(request: HttpRequest) -> str:
    """Where *Cancel* goes: the page the request came from, if it is ours; else the index."""
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, {request.get_host()}, request.is_secure()
    ):
        return referer
    return reverse("admin:index")


def fresh_second_factor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a view, a ModelAdmin's view method or an admin action that does something
    dangerous: without a fresh second factor, ask for one first (then it runs with the
    request's data). The request is the first argument of a view, the second of the others."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        request = args[0] if isinstance(args[0], HttpRequest) else args[1]
        if not is_fresh(request):
            return ask_for_second_factor(request)
        return view(*args, **kwargs)

    return wrapped


def ask_unless_fresh(request: HttpRequest) -> HttpResponse | None:
    """For a view that decides itself (e.g. only when a Secret changes): None when the
    second factor is fresh, else the page that asks for it."""
    return None if is_fresh(request) else ask_for_second_factor(request)
