"""The shapes of the API's requests and answers (pydantic, through django-ninja): the
OpenAPI schema is generated from these, and every answer is checked against them."""

import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field

State = Literal["ok", "failing", "not_connected", "never_tested"]
ConnectionType = Literal["private_app", "custom_connection", "web_app"]


class Error(Schema):
    code: str = Field(description="What went wrong, for programs: e.g. `site_not_found`.")
    message: str = Field(description="What went wrong and what to do, for people.")
    errors: list[dict] | None = Field(
        default=None, description="With `invalid`: each field that is wrong, and why."
    )


class LastTest(Schema):
    outcome: str = Field(description="The outcome code, e.g. `ok`, `invalid_client`.")
    label: str
    at: datetime.datetime
    message: str


class Organisation(Schema):
    name: str | None
    tenant_id: str | None = Field(description="Connect to Xero Sites only.")


class SiteStatus(Schema):
    code: str
    name: str
    connection_type: ConnectionType
    state: State = Field(
        description=(
            "`not_connected`: nothing to try yet (no organisation, or no API Key or Secret); "
            "`never_tested`; `failing`: the last test that gave a verdict failed; `ok`."
        )
    )
    last_test: LastTest | None
    organisation: Organisation
    certificate_expires_at: datetime.datetime | None = Field(
        description="The active certificate's expiry (private applications)."
    )
    payroll_enabled: bool
    paused: bool
    changed_at: datetime.datetime


class SiteList(Schema):
    count: int
    next: str | None = Field(description="The next page's address, or null.")
    results: list[SiteStatus]
    next_since: str = Field(
        description=(
            "Pass as `since` next time to get only Sites changed after this answer (a little "
            "overlap: a Site may come again, none is missed)."
        )
    )


class AccessToken(Schema):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a type, not a secret
    expires_at: datetime.datetime
    tenant_id: str | None = Field(description="Send as `Xero-Tenant-Id` (Connect to Xero).")
    scopes: list[str]


class SignRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "DELETE"]
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Under the Xero API or payroll base, with its query string.",
    )


class Signature(Schema):
    authorization: str = Field(description="The whole `Authorization` header's value.")
