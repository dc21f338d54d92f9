"""Every failure a user can meet in the Xero app, each with its code and its message.

``step`` names the step of the Xero setup procedure that fixes it (see ``xero/steps.py``).
A connection test's failures (``ConnectionTestFailed`` and its subclasses) also carry the
``label`` every page shows for their outcome: ``ConnectionTest.Outcome`` is built from
them, so a new outcome is a new class here, with its code, label, message and step.
"""

from typing import TYPE_CHECKING

from warehouse.ages import duration

from .certificates import APPLICATION_NAME, KEY_SIZES_TEXT
from .step_keys import STEP_APP_CENTRE, STEP_APPLICATION, STEP_DETAILS, STEP_TEST

if TYPE_CHECKING:
    from sites.models import Site


class XeroError(Exception):
    code = "xero_error"
    # How the outcome reads in a list of outcomes (``ConnectionTest.Outcome``'s label).
    label = "Failed"
    message = "Something went wrong with Xero."
    step: str | None = None
    # The Site concerned, where a page should lead back to it (set by whoever knows it).
    site: "Site | None" = None

    def __init__(self, message: str | None = None, **context):
        self.context = context
        if message is not None:
            self.message = message
        elif context:
            self.message = self.message.format(**context)
        super().__init__(self.message)


class CertificateKeySizeInvalid(XeroError):
    code = "certificate_key_size_invalid"
    message = f"The key size must be {KEY_SIZES_TEXT} bits."


class CertificateValidityInvalid(XeroError):
    code = "certificate_validity_invalid"
    message = "The certificate must be valid for 1 to {max_days} days."


class CertificateNotPending(XeroError):
    code = "certificate_not_pending"
    message = "Only a pending certificate can be made active; this one is {state}."


class CertificateNotReactivatable(XeroError):
    code = "certificate_not_reactivatable"
    message = (
        "This certificate can no longer be made active again: only one retired by a newer "
        "certificate, within {hours} hours and before it expires, can. Issue a new certificate "
        "instead."
    )


# How much of Xero's own words a test's history row keeps.
PROBLEM_LENGTH = 300


class ConnectionTestFailed(XeroError):
    """A failure of a call to Xero, as the connection test reports it.

    ``http_status`` and ``problem`` (Xero's own words, e.g. its ``oauth_problem`` or
    ``Detail``) are kept in the test's history row beside the code and the message.
    """

    code = "failed"
    label = "Failed"
    message = "The connection test failed."
    # True when the call was sent and then given up on: Xero may still be answering it.
    abandoned = False

    def __init__(self, message=None, *, http_status=None, problem="", **context):
        self.http_status = http_status
        self.problem = problem
        super().__init__(message, problem=problem, **context)


class CredentialsMissing(ConnectionTestFailed):
    code = "credentials_missing"
    label = "Credentials missing"
    step = STEP_DETAILS
    message = (
        "This Site has no {missing} yet. Copy it from Xero and paste it into the Xero Details form."
    )


class CertificateMissing(ConnectionTestFailed):
    code = "certificate_missing"
    label = "No certificate"
    step = STEP_APPLICATION
    message = (
        "This Site has no certificate to sign with. An Admin must issue one, and it must be "
        "pasted into the Xero application's “X509 Public Key Certificate” box."
    )


class ConsumerKeyUnknown(ConnectionTestFailed):
    code = "consumer_key_unknown"
    label = "Consumer Key unknown"
    step = STEP_DETAILS
    message = (
        "Xero does not know this API Key. Copy the Consumer Key again from the application's "
        f"page in Xero (My Apps → {APPLICATION_NAME}) into the API Key field."
    )


class InvalidClient(ConnectionTestFailed):
    code = "invalid_client"
    label = "Client ID or Secret refused"
    step = STEP_DETAILS
    message = (
        "Xero refused this Client ID and Client Secret. Copy both again from the Custom "
        "Connection's page in Xero's developer portal into the API Key and API Secret fields "
        "(generate a new secret there if it was lost)."
    )


class TokenRejected(ConnectionTestFailed):
    code = "token_rejected"
    label = "Token rejected"
    step = STEP_DETAILS
    message = (
        "Xero rejected the access token. Check that the API Key is the application's Consumer "
        "Key (or Client ID), copied in full, and test again."
    )

    def __init__(self, message=None, *, renewable: bool = False, **kwargs):
        # Xero said "invalid_token" (RFC 6750 §3.1): a type that can renew its token does
        # so once and sends the request again (client.XeroSession.request).
        self.renewable = renewable
        super().__init__(message, **kwargs)


class TokenExpired(ConnectionTestFailed):
    code = "token_expired"
    label = "Token expired"
    step = STEP_TEST
    message = (
        "Xero says the access token has expired, even after a new one was fetched. Test again "
        "in a minute; if it persists, the server's clock may be wrong."
    )

    def __init__(self, message=None, *, renewable: bool = True, **kwargs):
        self.renewable = renewable
        super().__init__(message, **kwargs)


# The same outcomes worded for the connection type that met them (``Connection.advice``):
# the advice names only what that type has.


class CustomConnectionTokenRejected(TokenRejected):
    label = TokenRejected.label
    message = (
        "Xero rejected the access token it had just issued for this Client ID, even after a "
        "new one was fetched. Check in Xero's developer portal that the Custom Connection is "
        "still authorised for the organisation and that the API Key field holds its Client ID "
        "in full, then test again."
    )


class WebAppTokenRejected(TokenRejected):
    label = TokenRejected.label
    step = STEP_APP_CENTRE
    message = (
        "Xero rejected this Site's access token, even one just renewed with its refresh token. "
        "Press “Connect to Xero” again on the setup page and approve the access; if it keeps "
        "happening, tell whoever runs the Warehouse server."
    )


class PrivateAppTokenExpired(TokenExpired):
    label = TokenExpired.label
    step = STEP_APPLICATION
    message = (
        "Xero says the token has expired. A private application's token is its Consumer Key "
        "and does not expire: check in Xero that the application still exists and that its "
        "certificate is current, then test again."
    )


class SignatureInvalid(ConnectionTestFailed):
    code = "signature_invalid"
    label = "Signature invalid"
    step = STEP_APPLICATION
    message = (
        "Xero could not verify the signature: the certificate pasted into the Xero application "
        "is not this Site's certificate. This Site signed with {signed_with}. Paste this Site's "
        "certificate into the application's “X509 Public Key Certificate” box in Xero, save, "
        "and test again."
    )

    def __init__(self, *, certificates=(), **kwargs):
        # Every certificate the Site signed with, so the person can compare with Xero's.
        self.certificates = list(certificates)
        signed_with = " and ".join(
            f"the {c.state} certificate (SHA-1 {c.fingerprint_sha1}, "
            f"SHA-256 {c.fingerprint_sha256})"
            for c in self.certificates
        )
        super().__init__(signed_with=signed_with or "its certificate", **kwargs)


class SignatureMethodRejected(ConnectionTestFailed):
    code = "signature_method_rejected"
    label = "No certificate in Xero"
    step = STEP_APPLICATION
    message = (
        "Xero has no certificate for this application, so it cannot check our signature. "
        "Paste this Site's certificate into the application's “X509 Public Key Certificate” "
        "box in Xero, save, and test again."
    )


class TimestampRefused(ConnectionTestFailed):
    code = "timestamp_refused"
    label = "Clock out of step"
    message = (
        "Xero refused the time on our request: this server's clock is {offset} Xero's. Ask "
        "whoever runs the Warehouse server to set its clock right (NTP), then test again."
    )


class NonceUsed(ConnectionTestFailed):
    code = "nonce_used"
    label = "Nonce reused"
    step = STEP_TEST
    message = (
        "Xero says this request was already seen (its one-time nonce was reused). Test again; "
        "if it happens twice, report it to the Warehouse developers."
    )


class InsufficientScope(ConnectionTestFailed):
    code = "insufficient_scope"
    label = "Scope missing"
    step = STEP_APPLICATION
    message = (
        "The connection lacks a permission (scope) this test needs. In Xero's developer portal, "
        "add the scopes listed in the setup steps to the Custom Connection, authorise again, "
        "and test again."
    )


class Forbidden(ConnectionTestFailed):
    code = "forbidden"
    label = "Access refused"
    step = STEP_APPLICATION
    message = (
        "Xero refused access to the organisation. The application may have been disconnected "
        "from it, or the organisation's subscription lapsed: check in Xero that the "
        "organisation is still connected to the application, then test again."
    )


class NoOrganisation(ConnectionTestFailed):
    code = "no_organisation"
    label = "No organisation"
    step = STEP_APPLICATION
    message = (
        "The Custom Connection is not authorised for any organisation yet. In Xero's developer "
        "portal, send the authorisation link to the organisation's admin and have them "
        "approve it, then test again."
    )


class RateLimited(ConnectionTestFailed):
    code = "rate_limited"
    label = "Rate limited"
    step = STEP_TEST
    message = "Xero's {limit} call limit was reached. {retry}"
    limits = {
        "minute": "60-calls-a-minute",
        "day": "daily",
        "appminute": "application-wide per-minute",
        "concurrent": "5-calls-at-once",
    }

    def __init__(self, *, limit="minute", retry_after=None, **kwargs):
        self.retry_after = retry_after
        retry = (
            f"Test again in {duration(retry_after)}."
            if retry_after is not None
            else "Wait a minute, then test again."
        )
        super().__init__(limit=self.limits.get(limit.lower(), limit), retry=retry, **kwargs)


class XeroUnavailable(ConnectionTestFailed):
    code = "xero_unavailable"
    label = "Xero unavailable"
    step = STEP_TEST
    message = (
        "Xero is unavailable right now (it answered with an error of its own, HTTP {status}). "
        "Nothing is wrong with this Site's settings; test again later, and see "
        "status.xero.com if it lasts."
    )


class XeroTimeout(ConnectionTestFailed):
    code = "timeout"
    label = "Timed out"
    step = STEP_TEST
    message = (
        "Xero did not answer within {seconds} seconds, so the test gave up. Test again "
        "later; if it keeps timing out, Xero may be having trouble (status.xero.com)."
    )


class WarehouseBusy(ConnectionTestFailed):
    code = "warehouse_busy"
    label = "Warehouse busy"
    step = STEP_TEST
    message = (
        "The Warehouse's database was busy (another task held it for more than {seconds} "
        "seconds), so the test could not finish; nothing is known about Xero. Test again in a "
        "minute; if it keeps happening, tell whoever runs the Warehouse server."
    )


class WarehouseStorageFailed(WarehouseBusy):
    code = "warehouse_storage_failed"
    label = "Warehouse database full or read-only"
    message = (
        "The Warehouse's database cannot store anything (its disk is full or it is "
        "read-only), so the test could not be recorded; nothing is known about Xero. Tell "
        "whoever runs the Warehouse server now: nothing can be saved until it is fixed."
    )


class WarehouseStalled(ConnectionTestFailed):
    code = "warehouse_stalled"
    label = "Warehouse stalled"
    step = STEP_TEST
    message = (
        "The Warehouse itself stopped running for {seconds} seconds during the test (its "
        "server was paused or overloaded), so the test ran out of time; nothing is known "
        "about Xero. Test again; if it keeps happening, tell whoever runs the Warehouse server."
    )


class XeroUnreachable(ConnectionTestFailed):
    code = "unreachable"
    label = "Xero unreachable"
    message = (
        "The Warehouse could not reach Xero at {host}: {reason}. This is a problem with the "
        "server's network or its Xero address settings, not with the Site; tell whoever runs "
        "the Warehouse server."
    )


class TLSFailure(ConnectionTestFailed):
    code = "tls_failure"
    label = "TLS failure"
    message = (
        "The secure (TLS) connection to {host} failed: the server did not prove it is Xero. "
        "Something between the Warehouse and Xero (a proxy or a wrong address setting) is "
        "intercepting the connection; tell whoever runs the Warehouse server."
    )


class UnexpectedResponse(ConnectionTestFailed):
    code = "unexpected_response"
    label = "Unexpected answer"
    step = STEP_TEST
    message = (
        "Xero answered with {received} where data was expected. The address settings may point "
        "at the wrong place, or Xero is having trouble; test again later."
    )


class TokenAnswerMalformed(UnexpectedResponse):
    # The same outcome as UnexpectedResponse, saying what was wrong with a token answer.
    label = UnexpectedResponse.label
    message = (
        "Xero's identity server answered with a token {fault}. The address settings may point "
        "at the wrong place, or Xero is having trouble; test again later."
    )


class XeroProblem(ConnectionTestFailed):
    code = "xero_problem"
    label = "Refused by Xero"
    step = STEP_TEST
    message = "Xero refused the request (HTTP {status}): {problem}"


class ConnectionTestCooldown(XeroError):
    code = "cooldown"
    label = "Tested moments ago"
    message = (
        "This Site was tested {ago}. Wait a few seconds before testing again, "
        "so that Xero's call limits are not spent on double clicks."
    )


# "Connect to Xero" (the web app connection type: xero/connection/web_app.py, xero/web_app.py
# and the flow in xero/connect.py). Its three steps reuse the keys of the other types'
# first, second and last steps (xero/steps.py): connect, choose the organisation, test.


class NotConnected(ConnectionTestFailed):
    code = "not_connected"
    label = "Not connected"
    step = STEP_APP_CENTRE
    message = (
        "This Site is not connected to Xero yet. Press “Connect to Xero” on its setup page, "
        "sign in to Xero and choose the organisation."
    )


class ReconnectNeeded(ConnectionTestFailed):
    code = "reconnect_needed"
    label = "Reconnect needed"
    step = STEP_APP_CENTRE
    message = (
        "Xero no longer accepts this Site's connection (its refresh token was revoked, "
        "expired after 60 days unused, or the Xero user removed the app). Press “Connect to "
        "Xero” again on the setup page and approve the access."
    )


class WebAppScopeMissing(InsufficientScope):
    # The same outcome as InsufficientScope, worded for a Site that connected through its app.
    label = InsufficientScope.label
    step = STEP_APP_CENTRE
    message = (
        "The connection lacks a permission (scope) this test needs. Check the Site's Xero "
        "Details (e.g. “Payroll enabled”), press “Connect to Xero” again and allow every "
        "access Xero lists, then test again."
    )


class DisconnectedInXero(ConnectionTestFailed):
    """The organisation this Site reached is gone from Xero's ``/connections``: someone
    removed the app in Xero (*Settings › Connected apps*) or revoked its consent there.
    Its own outcome, so that a disconnect made in Xero reads apart from a broken link, is
    told to the customer (only they can connect again) and is never mistaken for one made
    in the Warehouse, which removes the binding instead."""

    code = "disconnected_in_xero"
    label = "Disconnected in Xero"
    step = STEP_APP_CENTRE
    message = (
        "{tenant} was disconnected in Xero (Settings › Connected apps), so this Site no "
        "longer reaches it. It was connected by {connected_by} on {connected_at}. {fix}"
    )
    fix_web_app = "Press “Connect to Xero” again and choose {tenant}."
    fix_custom_connection = (
        "In Xero's developer portal, send the Custom Connection's authorisation link to the "
        "organisation's admin again and have them approve it, then test again."
    )


class TierFull(XeroError):
    code = "tier_full"
    step = STEP_APP_CENTRE
    message = (
        "The Warehouse's Xero app is on Xero's {tier} tier, which allows {cap} connected "
        "organisations, and all {cap} are in use, so Xero would refuse another. Nothing was "
        "sent to Xero. An Admin can disconnect an organisation no Site uses (listed on the "
        "health page), or move the app to a higher tier in Xero's developer portal and set "
        "XERO_APP_TIER to match; then press Connect to Xero again."
    )


class PauseReasonMissing(XeroError):
    code = "pause_reason_missing"
    message = (
        "Say why the Site's checks are paused (e.g. “Closed for the season until March”), "
        "so that whoever sees it paused knows when to resume it."
    )


class WebAppNotConfigured(XeroError):
    code = "web_app_not_configured"
    step = STEP_APP_CENTRE
    message = (
        "The Warehouse's Xero app is not set up: XERO_APP_CLIENT_ID and XERO_APP_CLIENT_SECRET "
        "must be set in the server's environment. Tell whoever runs the Warehouse server."
    )


class WrongConnectionType(XeroError):
    code = "wrong_connection_type"
    step = STEP_APP_CENTRE
    message = (
        "This Site connects as “{connection_type}”. Change its connection type to “Xero app "
        "(Connect to Xero)” in its Xero Details first."
    )


class ConnectStateInvalid(XeroError):
    code = "connect_state_invalid"
    step = STEP_APP_CENTRE
    message = (
        "This answer from Xero does not belong to a connection started here, in this browser, "
        "in the last {minutes} minutes (it may have been used already). Nothing was stored. "
        "Go back to the Site's setup page and press “Connect to Xero” again."
    )


class ConsentRefused(XeroError):
    code = "consent_refused"
    step = STEP_APP_CENTRE
    message = (
        "Access was not allowed in Xero, so {site} is not connected. Nothing was stored. "
        "Press “Connect to Xero” again and choose “Allow access” to connect it."
    )


class ConsentFailed(XeroError):
    code = "consent_failed"
    step = STEP_APP_CENTRE
    message = (
        "Xero could not complete the connection ({problem}). Nothing was stored. Press "
        "“Connect to Xero” again; if it keeps failing, Xero may be having trouble "
        "(status.xero.com)."
    )


class ConnectCodeInvalid(XeroError):
    code = "connect_code_invalid"
    step = STEP_APP_CENTRE
    message = (
        "Xero's authorisation expired or was already used (it lasts five minutes and works "
        "once). Nothing was stored. Press “Connect to Xero” again."
    )


class IdTokenInvalid(XeroError):
    code = "id_token_invalid"
    step = STEP_APP_CENTRE
    message = (
        "Xero's answer could not be proven to come from Xero for this connection: its "
        "identity token (id_token) {reason}. Nothing was stored. Press “Connect to Xero” "
        "again; if it keeps failing, tell whoever runs the Warehouse server to check the "
        "XERO_IDENTITY_URL, XERO_JWKS_URL and XERO_ISSUER settings and the server's clock."
    )


class ConnectNoOrganisation(XeroError):
    code = "connect_no_organisation"
    step = STEP_APPLICATION
    message = (
        "No organisation was connected in Xero. Nothing was stored. Press “Connect to Xero” "
        "again and tick the organisation of this Site on Xero's page."
    )


class TenantTaken(XeroError):
    code = "tenant_taken"
    step = STEP_APPLICATION
    message = (
        "{organisation} is already connected to another Site ({other}). One Xero organisation "
        "belongs to one Site: choose this Site's own organisation, or disconnect the other "
        "Site first."
    )


class TenantTakenElsewhere(TenantTaken):
    """``TenantTaken`` as a customer reads it: another customer's Site is not named."""

    message = (
        "{organisation} is connected to another Site in the Warehouse, so it cannot be "
        "connected to this one. Press “Connect to Xero” again and tick this Site's own "
        "organisation; if this is it, ask Imagatec support to move it."
    )


class TenantNotOffered(XeroError):
    code = "tenant_not_offered"
    step = STEP_APPLICATION
    message = (
        "That organisation was not among those just connected in Xero. Choose one from the "
        "list, or press “Connect to Xero” again."
    )


class AppCredentialsRejected(ConnectionTestFailed):
    code = "app_credentials_rejected"
    label = "Xero app credentials refused"
    message = (
        "Xero refused the Warehouse's own Xero app credentials (XERO_APP_CLIENT_ID and "
        "XERO_APP_CLIENT_SECRET). Tell whoever runs the Warehouse server to copy them again "
        "from the app's page at developer.xero.com."
    )


class FleetEnqueueFailed(XeroError):
    code = "fleet_enqueue_failed"
    message = (
        "The task queue refused the fleet checks ({reason}); {enqueued} Site checks were "
        "queued before it did, and the {removed} others were not left waiting. Check that "
        "the task queue (TASKS_BACKEND, REDIS_URL) answers, then run the checks again."
    )


class FleetEnqueueUnconfirmed(XeroError):
    code = "fleet_enqueue_unconfirmed"
    message = (
        "The task queue did not confirm {unconfirmed} of the {queued} Site checks queued "
        "({reason}). They stay queued: they run if the queue took them, and a worker "
        "queues them again if it did not; no Site is tested twice. Check that the task "
        "queue (TASKS_BACKEND, REDIS_URL) answers promptly."
    )


class LeaseLost(Exception):
    """A fleet check's worker no longer holds the lease of the Site's queue row (it was
    paused past the lease, and the Site was queued again): its result is not recorded.
    Never shown to a person: the check that holds the lease now records the verdict."""


def connection_test_failures() -> list[type[XeroError]]:
    """Every failure a connection test can record as its outcome, in definition order:
    ``ConnectionTestFailed`` and its subclasses, and the cooldown a click can meet."""
    found = []
    pending = [ConnectionTestFailed]
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending[:0] = cls.__subclasses__()
    return [*found, ConnectionTestCooldown]
