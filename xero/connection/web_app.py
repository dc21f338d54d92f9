"""Xero's standard web app, "Connect to Xero" (OAuth 2.0 authorization code with PKCE).

The Site reaches its organisation (``TenantBinding``) with a token set that one Xero
user's consent gave and that other Sites may share (``TokenSet``). It authenticates with
the token set's access token, refreshed under a lock when it has expired or when Xero
calls it expired (``xero.web_app``), and every call names the organisation in
``Xero-Tenant-Id``. A test first reads ``/connections``: the organisation gone is
``DisconnectedInXero`` (naming who connected it and when); a pass names the Xero user
who connected it.
"""

from django.utils import timezone

from sites.models import Site

from .. import client, web_app
from ..exceptions import (
    DisconnectedInXero,
    InsufficientScope,
    NotConnected,
    TokenRejected,
    WebAppScopeMissing,
    WebAppTokenRejected,
)
from ..models import TenantBinding
from .base import Connection


class WebApp(Connection):
    type = Site.ConnectionType.WEB_APP
    payroll_not_enabled = (
        "Payroll not enabled: tick “Payroll enabled” in the Site's Xero Details, press "
        "Connect to Xero again and allow the payroll access, then test again."
    )
    advice = {TokenRejected: WebAppTokenRejected, InsufficientScope: WebAppScopeMissing}

    def open(self) -> client.XeroSession:
        binding = TenantBinding.objects.select_related("token_set").filter(site=self.site).first()
        if binding is None:
            raise NotConnected()
        self.binding = binding
        self.session = client.XeroSession(site=self.site, authenticate=self.authenticate)
        self.session.headers["Xero-Tenant-Id"] = self.binding.tenant_id
        return self.session

    def authenticate(self, session, *, renew=False):
        rejected = session.auth.access_token if renew and session.auth else None
        token = web_app.access_token(
            token_set=self.binding.token_set, session=session, now=self.now, rejected=rejected
        )
        return client.BearerAuth(token)

    def organisation(self) -> dict:
        connections = web_app.read_connections(session=self.session)
        if self.binding.tenant_id not in {c.tenant_id for c in connections}:
            tenant = self.binding.tenant_name or "The organisation"
            raise DisconnectedInXero(
                tenant=tenant,
                connected_by=self.binding.token_set.connected_by_text,
                connected_at=f"{timezone.localtime(self.binding.connected_at):%-d %b %Y %H:%M}",
                fix=DisconnectedInXero.fix_web_app.format(tenant=tenant),
            )
        return super().organisation()

    def run(self) -> dict:
        result = super().run()
        who = self.binding.token_set.connected_by_text
        result["message"] = f"{result['message']} Connected in Xero by {who}."
        return result
