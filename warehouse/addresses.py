"""Whose address a request comes from: one rule for the lockouts and the audit trail."""

from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str:
    """``AXES_CLIENT_IP_CALLABLE``: the address a lockout applies to (and the trail records).

    REMOTE_ADDR, which a client cannot choose. Behind our proxy (``SECURE_PROXY_SSL``), the
    last X-Forwarded-For entry: the one the proxy added. Earlier entries come from the client
    and a forged one would dodge the lockout.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")
