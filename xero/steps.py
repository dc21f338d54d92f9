"""The Xero setup procedure as an ordered list of steps, each knowing its state from the data.

The same four keys serve both connection types (``xero.exceptions`` names them as the step
that fixes a failure, and each renders from ``templates/xero/steps/<key>.html``); each type
words them its own way, after the customer's Xero integration procedure for private
applications and Xero's developer portal for Custom Connections.

The step keys live below in ``xero/step_keys.py``: ``xero.exceptions`` names them, and the
models (read here) import the exceptions.
"""

import dataclasses
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from sites.models import Site

from .exceptions import NotConnected
from .step_keys import STEP_APP_CENTRE, STEP_APPLICATION, STEP_DETAILS, STEP_TEST

if TYPE_CHECKING:
    from .models import Certificate, ConnectionTest, TenantBinding


DONE = "done"
TODO = "todo"
PROBLEM = "problem"

STATE_LABELS = {DONE: "Done", TODO: "To do", PROBLEM: "Problem"}

XERO_APP_CENTRE_URL = "https://developer.xero.com/myapps"

TITLES: dict[str, dict[str, str]] = {
    Site.ConnectionType.PRIVATE_APP: {
        STEP_APP_CENTRE: "Log in to the Xero app centre and add an application",
        STEP_APPLICATION: "Set up the application in Xero",
        STEP_DETAILS: "Copy the Consumer Key and Secret into the Xero Details",
        STEP_TEST: "Test the connection",
    },
    Site.ConnectionType.CUSTOM_CONNECTION: {
        STEP_APP_CENTRE: "Log in to Xero's developer portal and create a Custom Connection",
        STEP_APPLICATION: "Choose the scopes and authorise the organisation",
        STEP_DETAILS: "Copy the Client ID and Secret into the Xero Details",
        STEP_TEST: "Test the connection",
    },
    Site.ConnectionType.WEB_APP: {
        STEP_APP_CENTRE: "Press Connect to Xero",
        STEP_APPLICATION: "Choose the organisation in Xero",
        STEP_TEST: "Test the connection",
    },
}

ORDER = (STEP_APP_CENTRE, STEP_APPLICATION, STEP_DETAILS, STEP_TEST)
# "Connect to Xero" needs no application of the customer's and no details to copy.
WEB_APP_ORDER = (STEP_APP_CENTRE, STEP_APPLICATION, STEP_TEST)
WEB_APP_TEMPLATES = {
    STEP_APP_CENTRE: "xero/steps/web_app_connect.html",
    STEP_APPLICATION: "xero/steps/web_app_choose_organisation.html",
}


@dataclass(frozen=True)
class Step:
    key: str
    number: int
    title: str
    state: str
    note: str = ""
    # A connection type whose step reads differently names its own template.
    template: str = ""

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def anchor(self) -> str:
        return f"step-{self.key}"

    @property
    def template_name(self) -> str:
        return self.template or f"xero/steps/{self.key}.html"


def title(connection_type: str, key: str) -> str:
    return TITLES[connection_type].get(key, key)


AGAIN = "test again to confirm"


def test_superseded(
    *,
    site: Site,
    test: "ConnectionTest | None",
    certificates: "Iterable[Certificate]" = (),
    binding: "TenantBinding | None" = None,
) -> str:
    """Why ``test``'s result no longer says how ``site`` stands, or "" if it still does: a
    change made since (its type, its details, a certificate, its connection to Xero).

    ``certificates`` are the Site's (any order), ``binding`` its organisation; both as the
    page already loaded them, so the answer costs no query.
    """
    if test is None:
        return ""
    since = test.started_at
    if test.connection_type != site.connection_type:
        return "The Site's connection type was changed since this test"
    if site.connection_type == Site.ConnectionType.WEB_APP:
        if binding is None:
            # A test of a Site not connected says so itself; any other result is of a
            # connection that is gone.
            return (
                ""
                if test.outcome == NotConnected.code
                else "The Site was disconnected since this test"
            )
        if binding.connected_at > since:
            return "The Site was connected to Xero since this test"
        return ""
    if site.updated_at > since:
        return "The Site's Xero Details were changed since this test"
    if site.signs_with_certificate:
        certificates = list(certificates)
        # A pass with the pending certificate makes it active and retires the old one: the
        # test's own doing, which leaves its result standing.
        promoted_at = next(
            (c.activated_at for c in certificates if c.pk == test.certificate_id), None
        )
        for certificate in certificates:
            if certificate.issued_at > since:
                return "A new certificate was issued since this test"
            activated = certificate.activated_at
            retired = certificate.retired_at
            if (activated and activated > since and certificate.pk != test.certificate_id) or (
                retired and retired > since and retired != promoted_at
            ):
                return "The Site's active certificate was changed since this test"
    return ""


def setup_steps(
    *,
    site: Site,
    certificate: "Certificate | None",
    last_test: "ConnectionTest | None",
    binding: "TenantBinding | None" = None,
    now: datetime.datetime | None = None,
    superseded: str = "",
) -> list[Step]:
    """The Site's steps with their states, worked out from what is stored.

    ``certificate`` is the one the customer should paste (pending, else active);
    ``last_test`` the latest connection test; ``binding`` a "Connect to Xero" Site's
    organisation. A failed test puts the problem at the step its outcome names; a test
    that passed means every step before it is done. A test ``superseded`` (the reason,
    from ``test_superseded``) by a change since says nothing about the steps now: the test
    step says to test again.
    """
    now = now or timezone.now()
    private = site.connection_type == Site.ConnectionType.PRIVATE_APP
    if last_test is not None and last_test.connection_type != site.connection_type:
        # A test of the type the Site used before (a switch since) says nothing about its
        # steps now: the private application's "Problem" must not follow it.
        last_test = None
    if superseded and last_test is not None:
        last_test = None
        superseded_note = f"{superseded}: {AGAIN}."
    else:
        superseded_note = ""
    passed = last_test is not None and last_test.passed
    failed_at = last_test.step if last_test is not None and not last_test.passed else None
    if last_test is not None and not last_test.passed and not last_test.step:
        # Failures no step fixes (network, clock) are shown at the test itself.
        failed_at = STEP_TEST
    if site.connection_type == Site.ConnectionType.WEB_APP:
        steps = _web_app_steps(site=site, binding=binding, last_test=last_test, failed_at=failed_at)
        return _noted(steps, STEP_TEST, superseded_note)

    states = {}
    notes = {}
    states[STEP_APP_CENTRE] = DONE if site.api_key or passed else TODO

    if failed_at == STEP_APPLICATION:
        states[STEP_APPLICATION] = PROBLEM
    elif private and certificate is None:
        states[STEP_APPLICATION] = TODO
        notes[STEP_APPLICATION] = "No certificate has been issued yet."
    elif private and certificate is not None and certificate.not_valid_after <= now:
        states[STEP_APPLICATION] = PROBLEM
        notes[STEP_APPLICATION] = "The certificate has expired: issue a new one."
    elif private and certificate is not None and certificate.is_expiring(now):
        states[STEP_APPLICATION] = PROBLEM
        notes[STEP_APPLICATION] = (
            f"The certificate expires in {certificate.days_to_expiry(now)} days: issue a new "
            "one and paste it into Xero."
        )
    elif private and certificate is not None and certificate.state == certificate.State.PENDING:
        states[STEP_APPLICATION] = TODO
        notes[STEP_APPLICATION] = (
            "A new certificate is pending: paste it into Xero, then test the connection."
        )
    else:
        states[STEP_APPLICATION] = DONE if passed else TODO

    if failed_at == STEP_DETAILS:
        states[STEP_DETAILS] = PROBLEM
    else:
        states[STEP_DETAILS] = DONE if site.has_api_credentials else TODO

    if passed:
        states[STEP_TEST] = DONE
    elif failed_at == STEP_TEST:
        states[STEP_TEST] = PROBLEM
    else:
        states[STEP_TEST] = TODO
    if last_test is not None and not last_test.passed and failed_at and failed_at != STEP_TEST:
        # The failure's explanation is shown once, with the test's result; here a pointer.
        notes.setdefault(
            failed_at,
            f"The last connection test failed here ({last_test.outcome_label}): its result, "
            "under “Test the connection”, says what to fix.",
        )

    if superseded_note:
        notes[STEP_TEST] = superseded_note
    return _numbered(site=site, order=ORDER, states=states, notes=notes)


def _noted(steps: list[Step], key: str, note: str) -> list[Step]:
    """``steps`` with ``note`` as the note of step ``key`` (when there is a note)."""
    if not note:
        return steps
    return [dataclasses.replace(s, note=note) if s.key == key else s for s in steps]


def _web_app_steps(*, site, binding, last_test, failed_at) -> list[Step]:
    """Connect, choose the organisation, test: each state from the binding and the test.

    A test older than the binding says nothing about it (the Site was connected since), and
    with no binding there is nothing to have tested: the steps start again."""
    if last_test is not None and (binding is None or last_test.started_at < binding.connected_at):
        last_test, failed_at = None, None
    passed = last_test is not None and last_test.passed
    notes = {}
    states = {
        STEP_APP_CENTRE: DONE if binding is not None else TODO,
        STEP_APPLICATION: DONE if binding is not None else TODO,
        STEP_TEST: DONE if passed else TODO,
    }
    if binding is not None:
        notes[STEP_APPLICATION] = f"Connected to {binding.tenant_name or binding.tenant_id}."
        if binding.token_set.reconnect_note:
            states[STEP_APP_CENTRE] = PROBLEM
            notes[STEP_APP_CENTRE] = binding.token_set.reconnect_note
    if failed_at is not None:
        # A failure whose step this type has not (the Warehouse's own settings) shows at the test.
        failed_at = failed_at if failed_at in states else STEP_TEST
        states[failed_at] = PROBLEM
        notes[failed_at] = last_test.message
    return _numbered(
        site=site, order=WEB_APP_ORDER, states=states, notes=notes, templates=WEB_APP_TEMPLATES
    )


def _numbered(*, site, order, states, notes, templates=None) -> list[Step]:
    """The steps of ``order``, numbered from 1, each with its title for ``site``'s connection
    type, its state, its note and (where the type's step reads differently) its template."""
    templates = templates or {}
    return [
        Step(
            key=key,
            number=number,
            title=title(site.connection_type, key),
            state=states[key],
            note=notes.get(key, ""),
            template=templates.get(key, ""),
        )
        for number, key in enumerate(order, start=1)
    ]
