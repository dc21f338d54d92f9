"""The answer to ``warehouse/sudo.py``'s code page: checks the code like the sign-in's
second-factor page (throttle, lockout counting) and lets the kept request through."""

import time
from collections.abc import Callable
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse

from warehouse.sudo import PENDING_FIELD, PENDING_KEY, ask_for_second_factor, second_factor_passed

from . import lockout, selectors, services
from .exceptions import SecondFactorCodeInvalid, SecondFactorThrottled
from .forms import SecondFactorCodeForm

PENDING_GONE = (
    "Nothing was done with that code: what it was to confirm was already done, was asked again "
    "in another tab, or waited too long. Check the page, then do it again if it is not done."
)
# The code page's form is urlencoded; a kept request may have been either.
FORM_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class FreshSecondFactorMiddleware:
    """Takes the code form's answer (a POST carrying ``fresh_second_factor``) before the view:
    a right code marks the session fresh and puts the kept request's data in place of the
    form's, so the view finishes what was started; a wrong one asks again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> Any:
        if (
            request.method != "POST"
            # The API's views (csrf_exempt, JSON) never read a form: their bodies stay theirs.
            or getattr(view, "csrf_exempt", False)
            or request.content_type not in FORM_CONTENT_TYPES
            or PENDING_FIELD not in request.POST
        ):
            return None
        user = request.user
        if not (user.is_authenticated and selectors.is_verified(user)):
            return None  # The gate sends them to sign in.
        pending = request.session.get(PENDING_KEY) or {}
        if (
            pending.get("id") != request.POST[PENDING_FIELD]
            or pending.get("path") != request.path
            or time.time() - pending.get("at", 0) > settings.FRESH_SECOND_FACTOR_MINUTES * 60
        ):
            # Used (a second click), replaced by a later one, for another page, or lapsed.
            request.session.pop(PENDING_KEY, None)
            messages.warning(request, PENDING_GONE)
            return HttpResponseRedirect(reverse("admin:index"))
        credentials = {"username": user.get_username()}
        if AxesProxyHandler.is_locked(request, credentials):
            return lockout.lockout_response(request, credentials=credentials)
        form = SecondFactorCodeForm(request.POST)
        if not form.is_valid():
            return ask_for_second_factor(
                request,
                error=" ".join(str(e) for e in form.errors["code"]),
                pending_id=pending["id"],
            )
        try:
            services.second_factor_verify(user=user, code=form.cleaned_data["code"])
        except (SecondFactorCodeInvalid, SecondFactorThrottled) as error:
            # Counted with the sign-in's failures of this username and address.
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            return ask_for_second_factor(request, error=error.message, pending_id=pending["id"])
        lockout.attempts_reset(request, username=user.get_username())
        second_factor_passed(request)
        request.session.pop(PENDING_KEY)
        if pending["method"] != "POST":
            return HttpResponseRedirect(request.get_full_path())
        data = QueryDict(mutable=True)
        for key, values in pending["data"].items():
            data.setlist(key, values)
        data["csrfmiddlewaretoken"] = request.POST.get("csrfmiddlewaretoken", "")
        data._mutable = False
        request.POST = data  # type: ignore[assignment]
        return None
