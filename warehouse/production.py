"""Decisions about serving the Warehouse in production, made once.

Which proxy is trusted (``TRUSTED_PROXY_IPS``), and how long a web request may take at most
(gunicorn's worker timeout). ``gunicorn.conf.py``, the lockouts and the audit trail read them
from here; ``check --deploy`` warns when the proxy settings disagree (docs/production.md).
"""

import ipaddress
import math
from collections.abc import Iterable

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Seconds gunicorn waits beyond the longest request before it kills a worker: the request's
# own bookkeeping after its last wait (recording the result, rendering the page).
WORKER_TIMEOUT_MARGIN = 10

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxy_networks() -> list[Network]:
    """``TRUSTED_PROXY_IPS`` as networks (an address is a /32 or /128); ``*`` is every one."""
    networks: list[Network] = []
    for entry in settings.TRUSTED_PROXY_IPS:
        entry = entry.strip()
        if entry == "*":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        elif entry:
            networks.append(ipaddress.ip_network(entry, strict=False))
    return networks


def is_trusted_proxy(address: str) -> bool:
    """Whether a connection from ``address`` comes from the proxy we trust."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(
        ip in network for network in trusted_proxy_networks() if ip.version == network.version
    )


def client_address_of(meta: dict) -> str:
    """The client's address: the connection's (``REMOTE_ADDR``, which a client cannot choose),
    or, when the connection comes from a trusted proxy, the last ``X-Forwarded-For`` entry:
    the one that proxy added. Earlier entries come from the client, and a forged one would
    dodge the lockout."""
    remote = str(meta.get("REMOTE_ADDR", ""))
    if is_trusted_proxy(remote):
        forwarded = str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")[-1].strip()
        if forwarded:
            return forwarded
    return remote


def forwarded_allow_ips() -> str:
    """gunicorn's ``forwarded_allow_ips``: the same list (gunicorn takes networks too)."""
    return ",".join(entry.strip() for entry in settings.TRUSTED_PROXY_IPS) or "127.0.0.1,::1"


def gunicorn_logging() -> dict[str, object]:
    """gunicorn's ``logconfig_dict``: the app's handler, format and redaction."""
    from warehouse.logs import gunicorn_logging

    return gunicorn_logging(log_format=settings.LOG_FORMAT, level=settings.LOG_LEVEL)


def longest_request_seconds() -> float:
    """The longest a web request can take: a connection test's whole budget (Xero and the
    database alike), plus one wait for the database's lock outside that budget."""
    return settings.XERO_CONNECT_TIMEOUT + settings.XERO_READ_TIMEOUT + settings.DATABASE_LOCK_WAIT


def worker_timeout() -> int:
    """gunicorn's worker timeout: longer than the longest request, so gunicorn never kills a
    worker in the middle of a slow but healthy connection test."""
    return math.ceil(longest_request_seconds()) + WORKER_TIMEOUT_MARGIN


@register(Tags.security, deploy=True)
def check_proxy_trust(
    app_configs: Iterable[object] | None = None, **kwargs: object
) -> list[CheckMessage]:
    """The proxy settings agree: X-Forwarded-* counts only from a named proxy."""
    try:
        networks = trusted_proxy_networks()
    except ValueError as error:
        return [
            Warning(
                f"TRUSTED_PROXY_IPS holds something that is not an address or network: {error}.",
                hint="List your proxy's addresses or networks, comma-separated, e.g. "
                "TRUSTED_PROXY_IPS=127.0.0.1,10.0.0.0/8.",
                id="warehouse.W001",
            )
        ]
    proxy_ssl = bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None))
    problems: list[CheckMessage] = []
    if proxy_ssl and not networks:
        problems.append(
            Warning(
                "SECURE_PROXY_SSL is on but TRUSTED_PROXY_IPS is empty: any client's "
                "X-Forwarded-Proto is believed, and lockouts count against the connection's "
                "address, which behind a proxy is the proxy's own (one client's failures lock "
                "everyone out).",
                hint="Set TRUSTED_PROXY_IPS to your proxy's address (SECURE_PROXY_SSL then "
                "follows it), or remove SECURE_PROXY_SSL when no proxy is in front.",
                id="warehouse.W002",
            )
        )
    if networks and not proxy_ssl:
        problems.append(
            Warning(
                "TRUSTED_PROXY_IPS names a proxy but SECURE_PROXY_SSL is off: requests the "
                "proxy received over HTTPS look like plain HTTP, so SECURE_SSL_REDIRECT "
                "redirects them for ever.",
                hint="Remove SECURE_PROXY_SSL=False (it follows TRUSTED_PROXY_IPS), or empty "
                "TRUSTED_PROXY_IPS when no proxy is in front.",
                id="warehouse.W003",
            )
        )
    if any(network.prefixlen == 0 for network in networks):
        problems.append(
            Warning(
                "TRUSTED_PROXY_IPS trusts every address ('*' or a /0 network): any client can "
                "name its own address in X-Forwarded-For and is never locked out.",
                hint="Name the proxy's own addresses or network instead.",
                id="warehouse.W004",
            )
        )
    return problems
