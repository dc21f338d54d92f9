"""What the fake Xero says: organisations, success envelopes and error bodies.

Every text here is the one Xero (or the OAuth library behind Xero's OAuth 1.0a service,
DevDefined.OAuth) is known to send; where none could be confirmed, the comment says so.
"""

import secrets
import string
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

PROVIDER_NAME = "ImagatecAPI"

# The content type Xero's OAuth 1.0a service gave its oauth_problem bodies (pyxero recorded
# it from the live API); clients must parse the form-encoded body whatever the header says.
OAUTH_PROBLEM_CONTENT_TYPE = "text/html; charset=utf-8"

# OAuth 1.0a problems: (HTTP status, oauth_problem_advice). Statuses follow what Xero sent:
# 400 for a rejected signature method or an absent parameter, 401 for the rest.
OAUTH1_PROBLEMS = {
    "consumer_key_unknown": (401, "Consumer key was not recognised"),
    "signature_invalid": (401, "Failed to validate signature"),
    "signature_method_rejected": (
        400,
        "Private applications must use the RSA-SHA1 signature method",
    ),
    "no_certificate": (400, "No certificates have been registered for the consumer"),
    "token_rejected": (
        401,
        "The access token has not been authorized, or has been revoked by the user",
    ),
    "timestamp_refused": (
        401,
        "The timestamp is too old, it must be at most 300 seconds before the server's "
        "current date and time",
    ),
    "timestamp_in_future": (
        401,
        "The timestamp is too far in the future, it must be at most 300 seconds after the "
        "server's current date and time",
    ),
    "nonce_used": (401, 'The nonce value "{nonce}" has already been used'),
    "parameter_absent": (400, "Missing required parameter : {names}"),
    # Xero's Payroll API documentation answers "HTTP 401" when an app calls payroll
    # endpoints it was not granted, and its OAuth Issues page lists "Permission Denied";
    # the advice is DevDefined.OAuth's wording for permission_denied.
    "permission_denied": (401, "The consumer was denied access to this resource."),
}

# Xero's OAuth 1.0a rate-limit answer, byte for byte (Xero-Net issues #189 and #216).
OAUTH1_RATE_LIMIT_BODY = (
    "oauth_problem=rate%20limit%20exceeded"
    "&oauth_problem_advice=please%20wait%20before%20retrying%20the%20xero%20api"
)

UNAVAILABLE_TEXT = "The Xero API is currently offline for maintenance"
NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
SERVER_ERROR_DETAIL = (
    "An unhandled error with the Xero API occurred. Contact the Xero API team if problems persist."
)
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Login | Xero Accounting Software</title></head>"
    '<body><form method="post" action="/"><h1>Log in to Xero</h1>'
    '<input type="email" name="userName"><input type="password" name="password">'
    '<button type="submit">Log in</button></form></body></html>\n'
)


def _short_code() -> str:
    alphabet = string.ascii_letters + string.digits
    return "!" + "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass
class Organisation:
    """The Xero organisation (tenant) an app reaches; field names are Xero's own."""

    Name: str = "Demo Company (AU)"
    LegalName: str = ""
    ShortCode: str = field(default_factory=_short_code)
    CountryCode: str = "AU"
    Version: str = "AU"
    OrganisationType: str = "COMPANY"
    BaseCurrency: str = "AUD"
    IsDemoCompany: bool = True
    OrganisationStatus: str = "ACTIVE"
    OrganisationID: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self):
        if not self.LegalName:
            self.LegalName = self.Name

    @property
    def tenant_id(self) -> str:
        """The id OAuth 2.0 calls the tenant id: Xero uses the OrganisationID."""
        return self.OrganisationID

    def as_xero(self) -> dict:
        return asdict(self)


def oauth1_problem(problem: str, **values) -> tuple[int, str]:
    """Return (status, form-encoded body) for an OAuth 1.0a problem.

    ``values`` fill the advice's placeholders; ``extra`` pairs (a list of tuples) are
    appended after the advice, e.g. ``oauth_acceptable_timestamps``.
    """
    extra = values.pop("extra", [])
    status, advice = OAUTH1_PROBLEMS[problem]
    wire_problem = {
        "no_certificate": "signature_method_rejected",
        "timestamp_in_future": "timestamp_refused",
    }.get(problem, problem)
    pairs = [("oauth_problem", wire_problem), ("oauth_problem_advice", advice.format(**values))]
    return status, urlencode(pairs + list(extra), quote_via=quote)


def problem_json(status: int, title: str, detail: str) -> dict:
    """Xero's OAuth 2.0 era problem body (ASP.NET ProblemDetails with PascalCase keys)."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


def envelope(now: float, **payload) -> dict:
    """The envelope every accounting and payroll success answer is wrapped in."""
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": f"/Date({int(now * 1000)})/",
        **payload,
    }


def pay_items() -> dict:
    return {
        "EarningsRates": [
            {
                "EarningsRateID": "1a2b3c4d-0000-4000-8000-000000000001",
                "Name": "Ordinary Hours",
                "EarningsType": "ORDINARYTIMEEARNINGS",
                "RateType": "RATEPERUNIT",
                "AccountCode": "477",
                "TypeOfUnits": "Hours",
                "IsExemptFromTax": False,
                "IsExemptFromSuper": False,
                "IsReportableAsW1": True,
                "EarningsRateStatus": "ACTIVE",
            }
        ],
        "DeductionTypes": [],
        "LeaveTypes": [],
        "ReimbursementTypes": [],
    }


def payroll_settings() -> dict:
    return {
        "Accounts": [
            {
                "AccountID": "1a2b3c4d-0000-4000-8000-000000000101",
                "Type": "PAYGLIABILITY",
                "Code": "825",
                "Name": "PAYG Withholdings Payable",
            }
        ],
        "TrackingCategories": {},
        "DaysInPayrollYear": "364",
    }


def to_xml(payload: dict, *, now: float) -> str:
    """Render an envelope the way Xero does when asked for XML (its default)."""
    root = ElementTree.Element(
        "Response",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
        },
    )
    for key, value in payload.items():
        if key == "DateTimeUTC":
            value = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        _append(root, key, value)
    return ElementTree.tostring(root, encoding="unicode")


def _append(parent, name: str, value) -> None:
    element = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list):
        # Xero names list items by the singular of the list: Organisations/Organisation.
        for item in value:
            _append(element, name.removesuffix("s"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


# What the "odd_token" failure puts into a token answer unless told otherwise: a lifetime
# no datetime holds (3 trillion years).
ODD_TOKEN = {"expires_in": 10**20}


def odd_token(answer: dict, options: dict) -> dict:
    """A token answer with the fields of ``options["token"]`` put in (``ODD_TOKEN``) and
    those named in ``options["drop"]`` left out."""
    doctored = {**answer, **options.get("token", ODD_TOKEN)}
    for name in options.get("drop", ()):
        doctored.pop(name, None)
    return doctored
