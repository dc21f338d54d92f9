"""Connection types: how each kind of Xero connection holds its conversation with Xero.

A Site's ``connection_type`` picks one class from ``TYPES`` (``connection_for(site)``).
Each is a small object, like one of django-allauth's providers, that knows for its type:

- **how it authenticates.** ``missing_credentials()`` names what the Site still lacks
  (``CredentialsMissing``). ``authenticate(session, renew=False)`` is handed to
  ``client.XeroSession``, whose constructor calls it: it returns the requests auth every
  call carries (it may itself call Xero through ``session``, e.g. for a token). When Xero
  says a token expired, the session calls it once more with ``renew=True``: it returns
  fresh credentials, or ``None`` when the type cannot renew and the failure stands.
- **which calls make a test.** ``organisation()`` returns Xero's Organisation answer (a
  Custom Connection first asks which organisations it is connected to);
  ``payroll_settings()`` asks the payroll API. Both go through ``get_json(url)``, where a
  type adds what each call needs (a private application signs it with the certificate
  that worked; a web app would add its ``Xero-Tenant-Id`` header).
- **how its failures read.** Xero's answers become ``xero.exceptions`` classes in
  ``xero.client``; a type raises its own where only it knows the meaning (``NoOrganisation``,
  one ``SignatureInvalid`` naming every certificate tried), and words its advice
  (``payroll_not_enabled``).

``run()``, the same for every type, makes the test's calls and returns the history fields
of a pass, or raises the failure. Afterwards ``certificate`` says which certificate
signed (private applications) and ``calls_left()`` what Xero said was left of its limits.
``xero.services.connection_test_run`` only claims the test, records this and promotes a
certificate.

A new type is a module here with a subclass of ``Connection`` and its entry in ``TYPES``,
as the OAuth 2.0 web app ("Connect to Xero", ``web_app.py``) is: its ``open`` needs the
Site's organisation binding instead of an API Key, ``authenticate`` hands out the shared
token set's access token (refreshed under a lock by ``xero.web_app`` when it has expired
or ``renew`` is set), ``organisation`` first checks ``/connections`` for the tenant, and
every call sends ``Xero-Tenant-Id``.
"""

import datetime

from sites.models import Site

from .base import Connection
from .custom_connection import CustomConnection
from .private_app import PrivateApp
from .web_app import WebApp

TYPES: dict[str, type[Connection]] = {
    Site.ConnectionType.PRIVATE_APP: PrivateApp,
    Site.ConnectionType.CUSTOM_CONNECTION: CustomConnection,
    Site.ConnectionType.WEB_APP: WebApp,
}

__all__ = ["TYPES", "Connection", "connection_for", "xero_session"]


def connection_for(site: Site, *, now: datetime.datetime | None = None) -> Connection:
    """The conversation of ``site``'s connection type, with the clock at ``now``."""
    return TYPES[site.connection_type](site, now=now)


def xero_session(site: Site, *, now: datetime.datetime | None = None):
    """A session authenticated as ``site`` (e.g. for a command or a test that makes its
    own calls); raises the failure that stops it, like a connection test would."""
    return connection_for(site, now=now).open()
