"""Whose address a request comes from: one rule for the lockouts and the audit trail."""

from django.http import HttpRequest

from warehouse.production import client_address_of


def client_ip_address(request: HttpRequest) -> str:
    """``AXES_CLIENT_IP_CALLABLE``: the address a lockout applies to (and the trail records).

    REMOTE_ADDR, which a client cannot choose; when the connection comes from a proxy named
    in ``TRUSTED_PROXY_IPS``, the last X-Forwarded-For entry: the one that proxy added
    (``warehouse.production.client_address_of``). Earlier entries come from the client and
    a forged one would dodge the lockout.
    """
    return client_address_of(request.META)
