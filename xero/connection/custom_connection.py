"""A Custom Connection (OAuth 2.0 client credentials), Xero's replacement for private apps.

It authenticates with a Bearer token from Xero's identity server for the Client ID and
Secret, kept encrypted (``AccessToken``) and reused until shortly before it expires; a
token Xero calls expired is renewed once. A test first asks which organisations the
connection is authorised for (none: ``NoOrganisation``, or ``DisconnectedInXero``
once it had one), then for the Organisation.
"""

import datetime
import logging

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from sites.models import Site

from .. import client
from ..exceptions import (
    CustomConnectionTokenRejected,
    DisconnectedInXero,
    NoOrganisation,
    TokenRejected,
)
from ..models import AccessToken, ConnectionTest
from ..step_keys import STEP_APPLICATION
from .base import Connection

logger = logging.getLogger(__name__)

# Renew a cached token this long before Xero says it expires, so a request never
# leaves with a token that dies on the way.
TOKEN_RENEW_MARGIN = datetime.timedelta(seconds=60)


class CustomConnection(Connection):
    type = Site.ConnectionType.CUSTOM_CONNECTION
    payroll_not_enabled = (
        "Payroll not enabled: add the payroll scopes to the Custom Connection in Xero's "
        "developer portal, authorise it again, and test again."
    )
    advice = {TokenRejected: CustomConnectionTokenRejected}

    def authenticate(self, session, *, renew=False):
        return client.BearerAuth(self._access_token(session, renew=renew))

    def _access_token(self, session, *, renew: bool) -> str:
        """The cached token while it lasts, else a new one from Xero's identity server."""
        digest = _credentials_digest(self.site)
        cached = AccessToken.objects.filter(site=self.site).first()
        if (
            not renew
            and cached is not None
            and constant_time_compare(cached.credentials_digest, digest)
            and cached.expires_at > self.now + TOKEN_RENEW_MARGIN
        ):
            return cached.access_token
        token = client.oauth2_token(
            session,
            client_id=self.site.api_key,
            client_secret=self.site.api_secret,
            grant={"grant_type": "client_credentials"},
        )
        # oauth2_token refused any lifetime but 1 second to a day, so this always fits.
        AccessToken.objects.update_or_create(
            site=self.site,
            defaults={
                "access_token": token["access_token"],
                "expires_at": self.now + datetime.timedelta(seconds=token["expires_in"]),
                "credentials_digest": digest,
            },
        )
        logger.info("Fetched a new Xero access token for site %s", self.site.code)
        return token["access_token"]

    def organisation(self) -> dict:
        if not self.get_json(settings.XERO_CONNECTIONS_URL):
            raise self._no_organisation()
        return super().organisation()

    def _no_organisation(self) -> NoOrganisation | DisconnectedInXero:
        """Never authorised yet (``NoOrganisation``), or authorised once and removed in Xero
        since (``DisconnectedInXero``): told apart by the Site's first passing test."""
        first_pass = (
            ConnectionTest.objects.filter(site=self.site, outcome=ConnectionTest.Outcome.OK)
            .order_by("started_at", "pk")
            .only("started_at", "organisation_name")
            .first()
        )
        if first_pass is None:
            return NoOrganisation()
        tenant = first_pass.organisation_name or "The organisation"
        failure = DisconnectedInXero(
            tenant=tenant,
            connected_by="its admin (authorising the Custom Connection)",
            connected_at=f"{timezone.localtime(first_pass.started_at):%-d %b %Y}",
            fix=DisconnectedInXero.fix_custom_connection,
        )
        failure.step = STEP_APPLICATION
        return failure


def _credentials_digest(site: Site) -> str:
    # Tells whether the Site's Client ID or Secret changed since a token was cached,
    # without keeping a copy of the secret.
    credentials = f"{site.api_key}\n{site.api_secret}"
    return salted_hmac("xero.token", credentials, algorithm="sha256").hexdigest()
