"""What every connection type shares: opening a session, the test's calls, how a pass reads."""

import builtins
import datetime
from typing import ClassVar

import requests
from django.conf import settings
from django.utils import timezone

from sites.models import Site

from .. import client, values
from ..exceptions import (
    ConnectionTestFailed,
    CredentialsMissing,
    Forbidden,
    InsufficientScope,
    TokenRejected,
    UnexpectedResponse,
    XeroProblem,
)
from ..models import Certificate, ConnectionTest

# The history fields a pass records, and the keys of Xero's Organisation they come from.
ORGANISATION_FIELDS = (
    ("organisation_name", "Name"),
    ("organisation_short_code", "ShortCode"),
    ("organisation_country", "CountryCode"),
    ("organisation_version", "Version"),
    ("organisation_type", "OrganisationType"),
    ("is_demo_company", "IsDemoCompany"),
)


class Connection:
    """One Site's conversation with Xero for one test (see the package's docstring)."""

    type: ClassVar[str]
    # The advice when Xero refuses the payroll call for want of permission.
    payroll_not_enabled: ClassVar[str]
    # Outcomes this type words its own way (the class raised -> the class reported), so
    # that no advice names what the type does not have (an API Key of a Connect to Xero
    # Site). Only outcomes built from ``http_status`` and ``problem`` alone.
    advice: ClassVar[
        dict[builtins.type[ConnectionTestFailed], builtins.type[ConnectionTestFailed]]
    ] = {}

    def __init__(self, site: Site, *, now: datetime.datetime | None = None):
        self.site = site
        self.now = now or timezone.now()
        self.session: client.XeroSession | None = None
        self.certificate: Certificate | None = None

    # How it authenticates.

    def missing_credentials(self) -> list[str]:
        """The names of the credentials the Site lacks, as the user knows them."""
        return [
            label
            for label, value in (
                ("API Key", self.site.api_key),
                ("API Secret", self.site.api_secret),
            )
            if not value
        ]

    def authenticate(
        self, session: client.XeroSession, *, renew: bool = False
    ) -> requests.auth.AuthBase | None:
        raise NotImplementedError

    def open(self) -> client.XeroSession:
        """A session authenticated as the Site, or the failure that prevents one."""
        missing = self.missing_credentials()
        if missing:
            raise CredentialsMissing(missing=" or ".join(missing))
        self.session = client.XeroSession(site=self.site, authenticate=self.authenticate)
        return self.session

    # Which calls make a test.

    def opened(self) -> client.XeroSession:
        """The session ``open`` made; a call before ``open`` is a mistake in our code."""
        if self.session is None:
            raise RuntimeError("Connection.open() was not called.")
        return self.session

    def get_json(self, url: str):
        return self.opened().get_json(url)

    def organisation(self) -> dict:
        return self.get_json(client.join(settings.XERO_API_URL, "Organisation"))

    def payroll_settings(self):
        return self.get_json(client.join(settings.XERO_PAYROLL_URL, "Settings"))

    def run(self) -> dict:
        """Make the test's calls; return the history fields of a pass or raise the failure,
        worded for this type (``advice``)."""
        try:
            return self._run()
        except ConnectionTestFailed as failure:
            worded = self.advice.get(type(failure))
            if worded is None:
                raise
            raise worded(http_status=failure.http_status, problem=failure.problem) from None

    def _run(self) -> dict:
        self.open()
        body = self.organisation()
        try:
            organisation = body["Organisations"][0]
            organisation["Name"]
            if not isinstance(organisation, dict):
                raise TypeError(organisation)
        except (KeyError, IndexError, TypeError):
            raise UnexpectedResponse(
                received="an organisation answer without an organisation"
            ) from None
        # Everything Xero says is fitted to its column here (xero.values), before it is
        # used: booleans only when booleans, text without control characters, cut to size.
        fields = {field.name: field for field in ConnectionTest._meta.concrete_fields}
        result = {
            name: values.for_field(fields[name], organisation.get(key))
            for name, key in ORGANISATION_FIELDS
        }
        name = result["organisation_name"]
        result.update(self._payroll())
        demo = " (a demo company)" if result["is_demo_company"] else ""
        result["message"] = (
            f"Connected to {name}{demo}, {result['organisation_type'].lower() or 'organisation'} "
            f"in {result['organisation_country'] or 'an unknown country'}. "
            f"Accounting OK. {result['payroll_message']}"
        ).strip()
        return result

    def _payroll(self) -> dict:
        Payroll = ConnectionTest.PayrollOutcome
        if not self.site.payroll_enabled:
            return {"payroll_outcome": Payroll.SKIPPED, "payroll_message": ""}
        try:
            self.payroll_settings()
        except (InsufficientScope, Forbidden, TokenRejected, XeroProblem) as failure:
            if failure.http_status not in (401, 403):
                return _payroll_failed(failure)
            return {
                "payroll_outcome": Payroll.NOT_ENABLED,
                "payroll_message": self.payroll_not_enabled,
            }
        except ConnectionTestFailed as failure:
            return _payroll_failed(failure)
        return {"payroll_outcome": Payroll.OK, "payroll_message": "Payroll OK."}

    # What the answers said, whatever the outcome.

    def calls_left(self) -> client.CallsLeft:
        """What Xero's last answer said was left of its minute and day limits."""
        last = self.session.last_response if self.session is not None else None
        return client.calls_left(last)


def _payroll_failed(failure: ConnectionTestFailed) -> dict:
    return {
        "payroll_outcome": ConnectionTest.PayrollOutcome.FAILED,
        "payroll_message": f"Payroll check failed: {failure.message}",
    }
