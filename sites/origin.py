"""Who and from where, for the audit trail: the request being served, or the command running.

In a request, the user and the client's address (``AuditMiddleware``); in a management
command, ``manage.py <command>`` (or what ``via`` names); otherwise the process's name.
This sits below ``sites/models.py``: a model that records its own changes asks here.
"""

import contextlib
import ipaddress
import os
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

from warehouse.addresses import client_ip_address

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
_via: ContextVar[str | None] = ContextVar("audit_via", default=None)


class AuditMiddleware:
    """Make the request (its user and address) the origin of what it records."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


@contextlib.contextmanager
def via(name: str) -> Iterator[None]:
    """Record what happens inside as done by ``name`` (e.g. ``manage.py rotate_...``)."""
    token = _via.set(name)
    try:
        yield
    finally:
        _via.reset(token)


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address, by the lockouts' rule (``client_ip_address``: the connection's,
    or behind our proxy the X-Forwarded-For entry the proxy added); anything that is not an
    IP address is dropped, so a forged header cannot break the request or the row."""
    try:
        return str(ipaddress.ip_address(client_ip_address(request).strip()))
    except ValueError:
        return None


def _process_name() -> str:
    argv = sys.argv or [""]
    program = os.path.basename(argv[0])
    if program in ("manage.py", "django-admin") and len(argv) > 1:
        return f"manage.py {argv[1]}"
    return f"process {program or 'python'}"


def current_origin() -> dict[str, Any]:
    """The origin fields of a row recorded now: actor, username, address, via."""
    request = _request.get()
    if request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        return {
            "actor": actor,
            "actor_username": actor.get_username() if actor else "",
            "remote_addr": client_address(request),
            "via": "web",
        }
    return {
        "actor": None,
        "actor_username": "",
        "remote_addr": None,
        "via": _via.get() or _process_name(),
    }
