"""A private application (OAuth 1.0a), the procedure's original connection type.

It authenticates by signing each request RSA-SHA1 with the private key of one of the
Site's certificates, the Consumer Key doubling as the access token; there is nothing to
renew. A test asks for the Organisation signed with each current certificate in turn
(``Certificate.objects.current()``: the pending one first, as it is being rolled out), so
that a rotation passes as soon as the new certificate is pasted into Xero; when Xero
refuses every signature, one ``SignatureInvalid`` names each certificate tried.
"""

from django.conf import settings

from sites.models import Site

from .. import client
from ..exceptions import CertificateMissing, PrivateAppTokenExpired, TokenExpired
from ..models import Certificate
from .base import Connection


class PrivateApp(Connection):
    type = Site.ConnectionType.PRIVATE_APP
    payroll_not_enabled = (
        "Payroll not enabled: tick “Enable Payroll API for this organisation” in the Xero "
        "application, save, and test again."
    )
    advice = {TokenExpired: PrivateAppTokenExpired}

    def __init__(self, site, *, now=None):
        super().__init__(site, now=now)
        self.certificates: list[Certificate] = []
        self._signers = {}

    def authenticate(self, session, *, renew=False):
        if renew:
            # The Consumer Key is the token: there is nothing to renew.
            return None
        # A fleet chunk reads its Sites' certificates in one query beforehand (fleet.py).
        prefetched = getattr(self.site, "prefetched_current_certificates", None)
        self.certificates = list(
            Certificate.objects.filter(site=self.site).current()
            if prefetched is None
            else prefetched
        )
        if not self.certificates:
            raise CertificateMissing()
        self.certificate = self.certificates[0]
        return self._signer(self.certificate)

    def _signer(self, certificate: Certificate):
        if certificate.pk not in self._signers:
            self._signers[certificate.pk] = client.oauth1_auth(
                consumer_key=self.site.api_key, certificate=certificate
            )
        return self._signers[certificate.pk]

    def get_json(self, url: str):
        # Signed with the certificate the Organisation call found working.
        if self.certificate is None:
            raise RuntimeError("organisation() finds the certificate first.")
        return self.opened().get_json(url, auth=self._signer(self.certificate))

    def organisation(self) -> dict:
        url = client.join(settings.XERO_API_URL, "Organisation")
        tried = []
        for certificate in self.certificates:
            self.certificate = certificate
            response = self.opened().get(  # type: ignore[call-arg]  # XeroSession's keyword
                url, auth=self._signer(certificate), check=False
            )
            if not client.is_signature_invalid(response):
                return client.json_from_response(client.checked(response))
            tried.append(certificate)
        raise client.error_from_response(response, certificates=tried)
